"""Run a data set through the app's own backend functions and score it.

Each item goes through the same function the UI calls (``caption_image``, ``answer_question``, ``read_text``,
``transcribe``, ``analyze_emotion``, ``generate_images``) with the manager built from the settings. An item
that fails (a bad file, an error inside a model) is recorded with its error and left out of the scores; a
model that cannot be loaded stops the run with :class:`~mmdemo.errors.ModelUnavailableError` (the CLI's
usual message and exit code 1).

The run's options are declared here (:data:`LIMIT`, :data:`EMOTION_SOURCE`, :data:`SEED`; the task is
:data:`~.datasets.TASK`): the Evaluate tab's widgets and the CLI's options are built from them. An item's error and
the progress steps are keyed (:mod:`mmdemo.messages`): the page shows them in the visitor's language.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BudgetError, MMDemoError, ModelUnavailableError
from ..messages import Message
from ..params import Choice, Number
from ..tasks.text_to_image import MAX_SEED
from . import metrics
from .datasets import Dataset, Item

if TYPE_CHECKING:
    from ..models.manager import ModelManager
    from ..progress import ProgressFn


LIMIT = Number(
    "limit",
    "Items at most (0 = all)",
    0,
    minimum=0,
    integer=True,
    doc="evaluate only the first N items; 0 = all",
)
EMOTION_SOURCE = Choice(
    "emotion_source",
    "Speech emotion: score the estimate from",
    "voice",
    choices=(("The voice", "voice"), ("The words", "words"), ("Both (fused)", "fused")),
    doc='emotion only: score the estimate from "voice", "words" or "fused"',
)
SEED = Number(
    "seed",
    "Text to image: seed of every image",
    0,
    minimum=0,
    maximum=MAX_SEED,
    integer=True,
    doc="text to image only: the seed of every image",
)
EMOTION_SOURCES: tuple[str, ...] = tuple(EMOTION_SOURCE.values)


@dataclass
class ItemResult:
    id: str
    line: int
    reference: Any
    prediction: Any = None
    scores: dict[str, float | None] = field(default_factory=dict)
    """Per-item metrics (percentages, CIDEr-D ×100, CLIP score)."""
    error: Message | str | None = None
    """Why the item could not be evaluated ("InputError: …", keyed where the error is); such items are left out
    of the scores."""
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    """Task extras: the VQA question, the emotion probabilities, the generated image's seed …"""

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class EvalResult:
    task: str
    dataset: str
    folder: str
    items: list[ItemResult]
    aggregates: dict[str, Any]
    models: list[str]
    notes: list[Message | str]
    seconds: float
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[ItemResult]:
        return [r for r in self.items if not r.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "dataset": self.dataset,
            "folder": self.folder,
            "options": self.options,
            "models": self.models,
            "notes": [str(note) for note in self.notes],
            "seconds": round(self.seconds, 3),
            "aggregates": self.aggregates,
            "items": [
                {
                    "id": r.id,
                    "line": r.line,
                    "reference": list(r.reference) if isinstance(r.reference, tuple) else r.reference,
                    "prediction": r.prediction,
                    "scores": r.scores,
                    "error": None if r.error is None else str(r.error),
                    "seconds": round(r.seconds, 3),
                    **r.details,
                }
                for r in self.items
            ],
        }


@dataclass(frozen=True)
class EvalOptions:
    limit: int | None = None
    """Evaluate only the first N items (:data:`LIMIT`; None or 0: all)."""
    emotion_source: str = EMOTION_SOURCE.default
    """Which estimate an emotion item is scored on (:data:`EMOTION_SOURCE`): ``voice`` (the speech emotion model
    alone), ``words`` (transcript + text emotion model) or ``fused`` (the app's overall estimate)."""
    seed: int = SEED.default
    """Text to image: the seed of every prompt's image (:data:`SEED`; reproducible runs)."""
    steps: int | None = None
    """Text to image: denoising steps (None: the model's recommendation)."""
    image_sink: Callable[[ItemResult, Any], None] | None = None
    """Text to image: called with each generated image (the CLI saves them for the report)."""
    charge: Callable[[float], None] | None = None
    """Text to image: each image's work, charged to the client's budget as the Text to image tab charges it
    (``generate_images``' ``charge``); a refusal (:class:`~mmdemo.errors.BudgetError`) ends the run there."""

    def validated(self) -> EvalOptions:
        """The options checked by their declarations; a limit of 0 is None (all items)."""
        from dataclasses import replace

        limit = LIMIT.check(0 if self.limit is None else self.limit)
        source, seed = EMOTION_SOURCE.check(self.emotion_source), SEED.check(self.seed)
        return replace(self, limit=limit or None, emotion_source=source, seed=seed)


def _first_line(err: BaseException) -> Message | str:
    """What an item's error says: the error's kind and its sentence (keyed for the app's own errors)."""
    if isinstance(err, MMDemoError):
        return Message("eval.item_error", kind=type(err).__name__, reason=err.message)
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


class NoEstimateError(MMDemoError, RuntimeError):
    """An item the task ran on but that gave nothing to score (its notes say why)."""


# ------------------------------------------------------------------------------------------ per task


def _predict(
    task: str, item: Item, manager: ModelManager, options: EvalOptions, notes: list[Message | str]
) -> ItemResult:
    result = ItemResult(item.id, item.line, item.reference)
    if item.question is not None:
        result.details["question"] = item.question
    began = time.perf_counter()
    try:
        if task == "caption":
            from ..tasks.captioning import caption_image

            out = caption_image(item.path, manager=manager)
            result.prediction = out.text
            result.details["model"] = out.model_id
        elif task == "vqa":
            from ..tasks.captioning import answer_question

            out = answer_question(item.path, item.question or "", manager=manager)
            result.prediction = out.answer
            result.details["model"] = out.model_id
        elif task == "ocr":
            from ..tasks.ocr import read_text

            out = read_text(item.path, manager=manager)
            result.prediction = out.text
            result.details["model"] = out.model_id
        elif task == "asr":
            from ..tasks.transcription import transcribe

            out = transcribe(item.path, manager=manager)
            result.prediction = out.text
            result.details["model"] = out.model_id
            notes.extend(out.notes)
        elif task == "emotion":
            _emotion(item, manager, options, result, notes)
        else:
            _text_to_image(item, manager, options, result, notes)
    except (ModelUnavailableError, BudgetError):
        raise
    except Exception as err:  # a bad file or a model error: recorded, the run goes on
        result.prediction = None
        result.error = _first_line(err)
    result.seconds = time.perf_counter() - began
    return result


def _emotion(
    item: Item, manager: ModelManager, options: EvalOptions, result: ItemResult, notes: list[Message | str]
) -> None:
    from ..tasks.audio_emotion import AnalysisOptions, analyze_emotion

    source = options.emotion_source
    out = analyze_emotion(item.path, options=AnalysisOptions(use_transcript=source != "voice"), manager=manager)
    distribution = {"voice": out.acoustic, "words": out.text, "fused": out.fused}[source]
    if not distribution:
        why = " ".join(str(note) for note in out.notes)
        raise NoEstimateError(Message("eval.no_estimate", source=Message(f"eval.source.{source}"), why=why))
    result.prediction = max(distribution, key=distribution.__getitem__)
    result.details["probabilities"] = {k: round(v, 4) for k, v in distribution.items()}
    result.details["model"] = ", ".join(sorted(set(out.model_ids.values())))
    notes.extend(n for n in out.notes if "transcribed instead" in str(n))
    if out.labels_note:
        notes.append(out.labels_note)


def _text_to_image(
    item: Item, manager: ModelManager, options: EvalOptions, result: ItemResult, notes: list[Message | str]
) -> None:
    from ..tasks.text_to_image import generate_images

    out = generate_images(
        item.reference, seed=options.seed, steps=options.steps, manager=manager, charge=options.charge
    )
    image = out.images[0]
    if image.clip_score is None:
        raise NoEstimateError(Message("eval.no_clip_score", why=" ".join(str(note) for note in out.notes)))
    result.prediction = image.clip_score
    result.details.update(seed=image.seed, steps=out.steps, model=out.model_id, clip_model=out.clip_model_id)
    notes.extend(n for n in out.notes if "safety checker" in str(n))
    if options.image_sink is not None:
        options.image_sink(result, image.image)


NEEDED_ROLES = {"emotion": {"voice": ("emotion",), "words": ("text_emotion",), "fused": ("emotion", "text_emotion")}}
"""Models whose absence the task would work around (it reports a note instead of failing): the evaluation
loads them first, so a missing one stops the run with the usual error instead of skewing every item. When the
tasks run elsewhere (Ray Serve, :mod:`mmdemo.runner`) the models load there, not here: only their files are
checked here."""


def _check_models(task: str, manager: ModelManager, options: EvalOptions) -> None:
    from ..runner import current_runner

    roles: Iterable[str] = ()
    if task == "emotion":
        roles = NEEDED_ROLES["emotion"][options.emotion_source]
    elif task == "t2i":
        roles = ("clip",)
    for role in roles:
        if current_runner() is None:
            with manager.use(role):
                pass
        elif not (availability := manager.availability(role)).usable:
            raise ModelUnavailableError(role, manager.model_id(role), "it is not installed", title=availability.title)


# ------------------------------------------------------------------------------------------ scoring


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def score(task: str, items: list[ItemResult]) -> dict[str, Any]:
    """Per-item scores (filled into ``items``) and the aggregates of the items that ran."""
    ok = [r for r in items if r.ok]
    aggregates: dict[str, Any] = {"items": len(items), "scored": len(ok), "failed": len(items) - len(ok)}
    if not ok:
        return aggregates
    if task == "caption":
        candidates = [metrics.ptb_tokenize(r.prediction) for r in ok]
        references = [[metrics.ptb_tokenize(ref) for ref in r.reference] for r in ok]
        bleu = metrics.corpus_bleu(candidates, references)
        cider, per_item = metrics.cider_d(candidates, references)
        for r, value in zip(ok, per_item, strict=True):
            r.scores["cider_d"] = round(100 * value, 2)
        aggregates.update({f"bleu_{n}": _percent(s) for n, s in enumerate(bleu.scores, start=1)})
        aggregates["cider_d"] = round(100 * cider, 2)
        aggregates["bleu_precisions"] = [_percent(p) for p in bleu.precisions]
        aggregates["brevity_penalty"] = round(bleu.brevity_penalty, 4)
    elif task == "vqa":
        accuracies = [metrics.vqa_accuracy(r.prediction, r.reference) for r in ok]
        for r, accuracy in zip(ok, accuracies, strict=True):
            r.scores["accuracy"] = _percent(accuracy)
        aggregates["accuracy"] = _percent(sum(accuracies) / len(accuracies))
    elif task in ("asr", "ocr"):
        words, chars = [], []
        strict_chars = metrics.normalize_transcript if task == "asr" else metrics.collapse_whitespace
        for r in ok:
            w = metrics.word_edits(
                metrics.normalize_transcript(r.reference), metrics.normalize_transcript(r.prediction)
            )
            c = metrics.char_edits(strict_chars(r.reference), strict_chars(r.prediction))
            words.append(w)
            chars.append(c)
            r.scores["wer"] = _percent(w.rate)
            r.scores["cer"] = _percent(c.rate)
        total_w, total_c = sum(words, metrics.ZERO_EDITS), sum(chars, metrics.ZERO_EDITS)
        aggregates["wer"] = _percent(total_w.rate)
        aggregates["cer"] = _percent(total_c.rate)
        aggregates["exact"] = _percent(sum(c.errors == 0 for c in chars) / len(chars))
        aggregates["word_edits"] = {
            "substitutions": total_w.substitutions,
            "deletions": total_w.deletions,
            "insertions": total_w.insertions,
            "reference_words": total_w.reference_length,
        }
        aggregates["char_edits"] = {
            "substitutions": total_c.substitutions,
            "deletions": total_c.deletions,
            "insertions": total_c.insertions,
            "reference_chars": total_c.reference_length,
        }
    elif task == "emotion":
        from ..tasks.audio_emotion import EMOTION_WORDS, plain_word

        references = [plain_word(r.reference) for r in ok]
        for r, ref in zip(ok, references, strict=True):
            r.details["reference_word"] = ref
            r.scores["correct"] = 100.0 if r.prediction == ref else 0.0
        result = metrics.classification_metrics(references, [r.prediction for r in ok], EMOTION_WORDS)
        aggregates["accuracy"] = _percent(result.accuracy)
        aggregates["unweighted_accuracy"] = _percent(result.unweighted_accuracy)
        aggregates["recall"] = {k: _percent(v) for k, v in result.recall.items()}
        aggregates["labels"] = list(result.labels)
        aggregates["confusion"] = [list(row) for row in result.confusion]
    else:
        values = [float(r.prediction) for r in ok]
        for r in ok:
            r.scores["clip_score"] = float(r.prediction)
        aggregates["clip_score"] = round(sum(values) / len(values), 2)
        aggregates["clip_score_min"] = round(min(values), 2)
        aggregates["clip_score_max"] = round(max(values), 2)
    return aggregates


# ------------------------------------------------------------------------------------------ run


def evaluate(
    dataset: Dataset,
    manager: ModelManager,
    options: EvalOptions = EvalOptions(),
    *,
    progress: bool = True,
    step: ProgressFn | None = None,
) -> EvalResult:
    """Evaluate every item of ``dataset`` (the first ``options.limit``) with a progress bar on stderr (unless
    ``progress`` is False). ``step(fraction, message)`` is told before each item (the app's progress bar); an
    exception it raises (the app's :class:`~mmdemo.errors.Cancelled` when the client has gone) stops the run."""
    from tqdm.auto import tqdm

    options = options.validated()
    items = list(dataset.items[: options.limit] if options.limit else dataset.items)
    began = time.perf_counter()
    notes: list[Message | str] = list(dataset.notes)
    _check_models(dataset.task, manager, options)
    results: list[ItemResult] = []
    bar = tqdm(items, desc=f"eval {dataset.task}", unit="item", file=sys.stderr, disable=not progress)
    try:
        for number, item in enumerate(bar, start=1):
            if step is not None:
                message = Message("eval.progress.item", number=number, total=len(items), id=item.id)
                step((number - 1) / len(items), message)
            try:
                results.append(_predict(dataset.task, item, manager, options, notes))
            except BudgetError as err:  # the client's budget is spent: what was scored is kept, with why it ended
                if not results:
                    raise
                notes.append(Message("eval.stopped_by_budget", done=len(results), total=len(items), why=err.message))
                break
            bar.set_postfix(failed=sum(not r.ok for r in results), refresh=False)
    finally:
        bar.close()
    if step is not None:
        step(1.0, Message("eval.progress.scoring"))
    models = sorted({r.details[k] for r in results for k in ("model", "clip_model") if r.details.get(k)})
    run_options: dict[str, Any] = {"limit": options.limit}
    if dataset.task == "emotion":
        run_options["source"] = options.emotion_source
    if dataset.task == "t2i":
        run_options.update(seed=options.seed, steps=options.steps)
    return EvalResult(
        task=dataset.task,
        dataset=dataset.name,
        folder=str(dataset.folder),
        items=results,
        aggregates=score(dataset.task, results),
        models=models,
        notes=list(dict.fromkeys(notes)),
        seconds=time.perf_counter() - began,
        options=run_options,
    )
