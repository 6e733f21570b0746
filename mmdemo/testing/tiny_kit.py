"""What every tiny-model builder shares (:mod:`.tiny_models`, :mod:`.tiny_audio`, :mod:`.tiny_diffusion`,
:mod:`.tiny_text`): the seed, the plain English words their vocabularies are made of, a BERT tokenizer over them.
It imports none of the builders, so they import it without an import circle."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

SEED = 1234

BERT_SPECIALS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
"""BERT's special tokens, in BERT's order: ids 0–4 of :func:`wordpiece_vocab`."""

# Plain English words (captions, questions and short VQA answers), so random weights decode to
# readable text rather than "[UNK]" or "". Duplicates are dropped, order is kept (ids are stable).
WORDS: tuple[str, ...] = tuple(
    dict.fromkeys(
        """
        a an the this that these those there here it its he she they them his her their we you i
        is are was were be been being has have had do does did can will would should could may
        of in on at by with from to into onto over under above below near next behind front
        between through across along around inside outside up down out off away top bottom side
        and or but not no yes very some many few several all both each other another more most
        one two three four five six seven eight nine ten 0 1 2 3 4 5 6 7 8 9
        man woman men women person people boy girl child children baby player family crowd
        dog dogs cat cats cheetah lion tiger bear horse cow sheep bird birds duck fish elephant
        giraffe zebra monkey animal animals
        car cars bus truck train bike bicycle motorcycle boat plane airplane road street
        sidewalk bridge tower building house city sign light traffic
        tree trees grass field park garden flower flowers plant forest mountain hill rock sand
        beach water ocean sea lake river sky cloud clouds sun snow rain
        table chair couch bed room kitchen window door wall floor desk shelf
        plate bowl cup glass bottle food pizza cake sandwich fruit apple banana orange
        ball kite frisbee umbrella bag hat shirt dress shoes phone computer laptop book clock
        picture photo photography painting drawing image view close closeup black white red
        blue green yellow brown gray grey pink purple orange dark bright colorful
        big small large little tall short long old young new wooden metal
        sitting standing walking running lying laying playing eating drinking holding riding
        looking flying swimming wearing carrying parked
        day night morning evening sunny cloudy
        what where who which how why when many color kind type picture
        """.split()
    )
)
WORD_PIECES: tuple[str, ...] = ("##s", "##es", "##ed", "##ing", "##er", "##ly", ".", ",", "?", "!", "'", "-")


def wordpiece_vocab(extra_specials: Sequence[str] = (), words: Sequence[str] = WORDS) -> dict[str, int]:
    """A BERT WordPiece vocabulary: :data:`BERT_SPECIALS`, then ``extra_specials``, then words."""
    tokens = [*BERT_SPECIALS, *extra_specials, *words, *WORD_PIECES]
    return {token: i for i, token in enumerate(dict.fromkeys(tokens))}


def bert_tokenizer(extra_specials: Sequence[str] = (), *, model_max_length: int = 512, **kwargs: Any) -> Any:
    """A ``BertTokenizer`` over :func:`wordpiece_vocab` (``vocab=`` dict: v5 ignores ``vocab_file=``)."""
    from transformers import BertTokenizer

    vocab = wordpiece_vocab(extra_specials)
    tokenizer = BertTokenizer(vocab=vocab, model_max_length=model_max_length, **kwargs)
    if len(tokenizer) != len(vocab):  # guards against v5 silently dropping a vocabulary argument
        raise RuntimeError(f"tokenizer has {len(tokenizer)} tokens, expected {len(vocab)}")
    return tokenizer


@contextmanager
def seeded(seed: int = SEED) -> Iterator[None]:
    """Deterministic weight init without disturbing the caller's global RNG state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
