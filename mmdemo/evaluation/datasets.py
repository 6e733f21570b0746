"""Evaluation data sets: folders in the Hugging Face ImageFolder/AudioFolder convention, and the built-in sets.

A data set is a folder with media files and a ``metadata.jsonl``: one JSON object per line with
``file_name`` (a path relative to the folder) and the reference column(s) of the task:

==========  ====================================================================================
caption     ``text``: a reference caption, or a list of them
vqa         ``question`` and ``answers`` (a list of answers, e.g. the 10 human answers of VQAv2, as
            strings or ``{"answer": …}`` objects; or one string)
ocr         ``text``: the text in the image (a string, or a list of lines)
asr         ``text``: the transcript
emotion     ``label``: the emotion (a word such as ``happy`` or a model label such as ``hap``)
t2i         ``prompt`` (``file_name`` optional: a generated image is compared with its prompt only)
==========  ====================================================================================

Other columns are ignored. Built-in sets (:data:`BUILTIN`) are made on first use in a cache folder from
media that ships with installed packages (Gradio's speech clips) and from known text (speech synthesised by
espeak-ng, text rendered into images), so ``python -m mmdemo eval asr`` and ``eval ocr`` work offline.

What to evaluate is the declared :data:`TASK` (the Evaluate tab's choice, the CLI's ``task``). A data set that
cannot be read is refused with every problem named, keyed (:mod:`mmdemo.messages`): the page says it in the
visitor's language.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import InputError
from ..messages import Message
from ..messages import text as rendered
from ..params import Choice
from ..progress import ProgressFn

TASK = Choice(
    "task",
    "Task",
    None,  # no default: the visitor (or the zip, when it can be told) chooses; a wrong task scores 0
    choices=(
        ("Captions (BLEU, CIDEr-D)", "caption"),
        ("Questions about photos (VQA accuracy)", "vqa"),
        ("Reading text (OCR: CER, WER)", "ocr"),
        ("Speech recognition (WER, CER)", "asr"),
        ("Speech emotion (accuracy)", "emotion"),
        ("Text to image (CLIP score)", "t2i"),
    ),
    doc="what to evaluate: caption, vqa, ocr, asr, emotion or t2i",
)
TASKS: tuple[str, ...] = tuple(TASK.values)
METADATA = "metadata.jsonl"
COLUMNS = {
    "caption": ("text",),
    "vqa": ("question", "answers"),
    "ocr": ("text",),
    "asr": ("text",),
    "emotion": ("label",),
    "t2i": ("prompt",),
}
"""The reference columns each task reads from ``metadata.jsonl`` (besides ``file_name``)."""
MAX_PROBLEMS_SHOWN = 10
MAX_LINE_BYTES = 1 << 20
"""Longest line of ``metadata.jsonl`` read, in bytes (a longer one is a bad line, not read into memory)."""
READ_STEP = 1000
"""Lines of ``metadata.jsonl`` between two progress reports while it is read (where a run whose client has gone
stops)."""


class DatasetError(InputError):
    """The data set cannot be read: no folder, no ``metadata.jsonl``, bad lines, missing files."""


class Lines(Message):
    """Messages one per line (a data set's bad lines), each rendered in the locale of the message they are in."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[Message | str]) -> None:
        self.key = "eval.lines"
        self.values = {}
        self.parts = tuple(parts)

    def text(self, locale: str = "en") -> str:
        return "\n  ".join(rendered(part, locale) for part in self.parts)

    def __eq__(self, other: object) -> bool:
        return str(self) == other if isinstance(other, str) else isinstance(other, Lines) and self.parts == other.parts

    def __hash__(self) -> int:
        return hash(str(self))

    def __reduce__(self) -> tuple[object, ...]:
        return (Lines, (list(self.parts),))


def check_task(task: object) -> str:
    """``task`` if it is one of :data:`TASKS`, else :class:`DatasetError` (the declaration's sentence)."""
    try:
        return TASK.check(task)
    except InputError as err:
        raise DatasetError(err.message) from None


@dataclass(frozen=True)
class Item:
    """One thing to evaluate: a media file and its reference (one line of ``metadata.jsonl``)."""

    line: int
    """Line number in ``metadata.jsonl`` (1-based)."""
    file_name: str | None
    path: Path | None
    reference: Any
    """caption: tuple of reference captions; vqa: tuple of answers; ocr/asr: the text; emotion: the label;
    t2i: the prompt."""
    question: str | None = None
    """VQA only."""

    @property
    def id(self) -> str:
        return self.file_name or f"line {self.line}"


@dataclass(frozen=True)
class Dataset:
    name: str
    folder: Path
    task: str
    items: tuple[Item, ...]
    notes: tuple[Message | str, ...] = field(default=())
    """What the user should know about the set (e.g. built-in parts left out and why)."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _reference(task: str, row: dict[str, Any], line: int) -> tuple[Any, str | None, Message | None]:
    """(reference, question, problem) for one parsed line (number ``line``)."""
    missing = [c for c in COLUMNS[task] if c not in row]
    if missing:
        found = ", ".join(sorted(row)) or Message("eval.line.no_columns")
        columns = " or ".join(repr(c) for c in missing)
        return None, None, Message("eval.line.missing_column", line=line, columns=columns, found=found)
    if task == "caption":
        value = row["text"]
        refs = [value] if isinstance(value, str) else value
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
            return None, None, Message("eval.line.caption", line=line)
        return tuple(refs), None, None
    if task == "vqa":
        question = _text(row["question"])
        if not question or not question.strip():
            return None, None, Message("eval.line.question", line=line)
        value = row["answers"]
        answers = [value] if isinstance(value, str) else value
        if isinstance(answers, list):
            answers = [a.get("answer") if isinstance(a, dict) else a for a in answers]
        if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
            return None, None, Message("eval.line.answers", line=line)
        return tuple(answers), question, None
    if task == "ocr":
        value = row["text"]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = "\n".join(value)
        if not isinstance(value, str):
            return None, None, Message("eval.line.ocr_text", line=line)
        return value, None, None
    if task == "asr":
        if not isinstance(row["text"], str):
            return None, None, Message("eval.line.transcript", line=line)
        return row["text"], None, None
    if task == "emotion":
        label = _text(row["label"])
        if not label or not label.strip():
            return None, None, Message("eval.line.label", line=line)
        return label.strip(), None, None
    prompt = _text(row["prompt"])
    if not prompt or not prompt.strip():
        return None, None, Message("eval.line.prompt", line=line)
    return prompt, None, None


def _relative(file_name: str) -> str | None:
    """``file_name`` if it is a relative path that stays inside the folder, else None."""
    path = PurePosixPath(file_name.replace("\\", "/"))
    if not file_name.strip() or path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        return None
    return str(path)


def _lines(metadata: Path, refused: Callable[..., DatasetError]) -> Iterator[tuple[int, str | None]]:
    """(number, text) of each line of ``metadata`` read one at a time (UTF-8, a leading BOM dropped); the text is
    None for a line over :data:`MAX_LINE_BYTES` (skipped without being held)."""
    offset = 0
    with metadata.open("rb") as data:
        number = 0
        while raw := data.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                offset += len(raw)
                while (rest := data.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    offset += len(rest)
                offset += len(rest)
                yield number, None
                continue
            start = 3 if number == 1 and raw.startswith(b"\xef\xbb\xbf") else 0
            try:
                text = raw[start:].decode("utf-8")
            except UnicodeDecodeError as err:
                raise refused("eval.not_utf8", reason=err.reason, byte=offset + start + err.start) from None
            offset += len(raw)
            yield number, text.rstrip("\r\n")


def read_dataset(
    folder: str | Path,
    task: str,
    *,
    name: str | None = None,
    shown_as: Message | str | None = None,
    max_items: int | None = None,
    progress: ProgressFn | None = None,
) -> Dataset:
    """Read ``folder/metadata.jsonl`` for ``task``. Raises :class:`DatasetError` naming every bad line (the
    first :data:`MAX_PROBLEMS_SHOWN`) and every missing file, before anything is evaluated.

    ``shown_as``: what the messages call the folder (an upload: "the zip", and ``metadata.jsonl`` without a
    folder); by default its path. The operator's detail always has the paths.

    ``max_items``: refuse a ``metadata.jsonl`` of more lines (blank ones aside): reading stops at the first line
    past it (None: no limit). ``progress(0, message)`` is told every :data:`READ_STEP` lines; an exception it
    raises (the app's :class:`~mmdemo.errors.Cancelled`) stops the reading."""
    task = check_task(task)
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DatasetError(Message("eval.no_folder", folder=folder))
    metadata = folder / METADATA
    shown = {"folder": folder, "metadata": metadata} if shown_as is None else {"folder": shown_as, "metadata": METADATA}

    def refused(key: str, **values: Any) -> DatasetError:
        message = Message(key, **shown, **values)
        return DatasetError(message, detail=str(Message(key, folder=folder, metadata=metadata, **values)))

    if not metadata.is_file():
        nested = sorted(p.parent.name for p in folder.glob(f"*/{METADATA}"))
        columns = ", ".join(COLUMNS[task])
        if nested:
            raise refused("eval.no_metadata_splits", columns=columns, splits=", ".join(nested))
        raise refused("eval.no_metadata", columns=columns)
    problems: list[Message] = []
    missing: list[str] = []
    items: list[Item] = []
    found: dict[str, bool] = {}
    counted = 0
    for number, line in _lines(metadata, refused):
        if progress is not None and number % READ_STEP == 0:
            progress(0.0, Message("eval.progress.reading", line=number))
        if line is not None and not line.strip():
            continue
        counted += 1
        if max_items is not None and counted > max_items:
            raise refused("eval.too_many_items", limit=max_items)
        if line is None:
            problems.append(Message("eval.line.too_long", line=number, limit=MAX_LINE_BYTES))
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(Message("eval.line.json", line=number, reason=err.msg, column=err.colno))
            continue
        except RecursionError:
            problems.append(Message("eval.line.too_deep", line=number))
            continue
        if not isinstance(row, dict):
            problems.append(Message("eval.line.not_object", line=number))
            continue
        reference, question, problem = _reference(task, row, number)
        if problem:
            problems.append(problem)
            continue
        file_name = row.get("file_name")
        path = None
        if file_name is not None or task != "t2i":
            if not isinstance(file_name, str):
                problems.append(Message("eval.line.no_file_name", line=number))
                continue
            relative = _relative(file_name)
            if relative is None:
                problems.append(Message("eval.line.outside", line=number, name=repr(file_name)))
                continue
            path = folder / relative
            if relative not in found:
                found[relative] = path.is_file()
            if not found[relative]:
                missing.append(f"{file_name} (line {number})")
                continue
        items.append(Item(number, file_name, path, reference, question))
    if problems:
        shown_lines: list[Message | str] = list(problems[:MAX_PROBLEMS_SHOWN])
        if len(problems) > MAX_PROBLEMS_SHOWN:
            shown_lines.append(Message("eval.and_more", count=len(problems) - MAX_PROBLEMS_SHOWN))
        raise refused("eval.bad_lines", count=len(problems), lines=Lines(shown_lines))
    if missing:
        names = ", ".join(missing[:MAX_PROBLEMS_SHOWN])
        if len(missing) > MAX_PROBLEMS_SHOWN:
            more = len(missing) - MAX_PROBLEMS_SHOWN
            raise refused("eval.missing_files_more", count=len(missing), names=names, more=more)
        raise refused("eval.missing_files", count=len(missing), names=names)
    if not items:
        raise refused("eval.no_items")
    return Dataset(name or folder.name, folder, task, tuple(items), _read_notes(folder))


def _read_notes(folder: Path) -> tuple[Message | str, ...]:
    """The notes a built-in set was made with: a message per line (``{"key": …, "values": …}``; a line of text as
    it is)."""
    notes = folder / NOTES
    if not notes.is_file():
        return ()
    found: list[Message | str] = []
    for line in notes.read_text(encoding="utf-8").splitlines():
        try:
            data = json.loads(line)
            found.append(Message(data["key"], **data["values"]))
        except (ValueError, KeyError, TypeError):
            if line.strip():
                found.append(line)
    return tuple(found)


def _write_notes(folder: Path, notes: list[Message]) -> None:
    lines = (json.dumps({"key": note.key, "values": note.values}, ensure_ascii=False) for note in notes)
    (folder / NOTES).write_text("\n".join(lines) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------ built-in sets

NOTES = "NOTES.txt"
"""Built-in sets write what was left out of them here; :func:`read_dataset` passes it on as notes."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mmdemo/eval`` (``~/.cache/mmdemo/eval``)."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mmdemo" / "eval"


GRADIO_SPEECH = {
    "heath_ledger.mp3": "If you're good at something, never do it for free.",
    "cate_blanch_2.mp3": "I trust you had an historic evening.",
}
"""Gradio's speech clips (``gradio.media``) whose words are certain. Left out: ``cate_blanch.mp3`` (one word
cannot be told apart: Whisper tiny.en scores "mind" and "manhood" alike), ``audio_sample.wav`` (a 1 s
mumble Whisper itself is unsure of), ``recording1.wav`` (a cheer, no words) and the music clips."""

SPOKEN = (
    ("en-us", 170, "The quick brown fox jumps over the lazy dog."),
    ("en-gb", 160, "Please remember to bring your umbrella because it will rain this afternoon."),
    ("en-us", 150, "She opened the window and listened to the birds singing in the garden."),
    ("en-gb", 175, "The library closes early on Sundays, so we should leave now."),
    ("en-us", 175, "Could you tell me where the nearest train station is?"),
    ("en-gb", 150, "Fresh bread and warm soup make a perfect dinner on a cold evening."),
    ("en-us", 160, "The children built a sandcastle near the edge of the water."),
    ("en-gb", 170, "Our meeting has been moved to next Tuesday morning."),
)
"""Sentences espeak-ng speaks (voice, words per minute, text): the reference is exactly the text."""

# (file name, lines, style). Plain images: dark text on a light background unless colours are given; "photo"
# draws the text on that gradio.media photo (with a dark outline); then, in this order, "rotate" (degrees),
# "blur" (Gaussian radius), "noise" (standard deviation of grey-level noise, fixed seed), "half" (half size)
# and "jpeg" (saved as JPEG at that quality). Sizes are pixel sizes of Pillow's bundled font.
TEXT_IMAGES: tuple[tuple[str, tuple[str, ...], dict[str, Any]], ...] = (
    ("report-title.png", ("Quarterly Sales Report",), {"size": 40}),
    ("meeting-note.png", ("Meeting moved to Room 204", "Thursday at 3:30 PM"), {"size": 36}),
    ("open-sign.png", ("OPEN 24 HOURS",), {"size": 56, "colour": "white", "background": "#1f3a68"}),
    ("door-notice.png", ("Please keep this door closed at all times.",), {"size": 26}),
    ("invoice.png", ("Invoice No. 58213", "Total: $1,245.90"), {"size": 34}),
    ("exit-sign.png", ("Exit via Stairwell B",), {"size": 44, "colour": "#0b5d1e", "background": "#e8e8e8"}),
    ("address.png", ("221B Baker Street", "London NW1 6XE", "United Kingdom"), {"size": 32}),
    ("small-print.png", ("Terms and conditions apply. See store for details.",), {"size": 13}),
    ("batch-code.png", ("Batch 7Q-118 expires 2027-03-31",), {"size": 11}),
    ("fine-print.png", ("Keep frozen below minus eighteen degrees",), {"size": 9}),
    ("tilted-label.png", ("Fragile: handle with care",), {"size": 36, "rotate": 7}),
    ("low-contrast.png", ("Recycled paper only",), {"size": 36, "colour": "#a0a0a0", "background": "#c4c4c4"}),
    ("blurred-sign.png", ("No parking on weekdays",), {"size": 30, "blur": 2.0}),
    ("noisy-scan.png", ("Noisy scan of page 12",), {"size": 24, "noise": 90}),
    ("low-quality.jpg", ("Low quality photo of a page",), {"size": 32, "half": True, "jpeg": 15}),
    ("lion-poster.png", ("Lion Country Safari",), {"size": 44, "photo": "lion.jpg", "colour": "yellow"}),
    ("tower-poster.png", ("Welcome to Paris",), {"size": 52, "photo": "tower.jpg", "colour": "white"}),
    ("cheetah-poster.png", ("Fastest Animal on Land",), {"size": 40, "photo": "cheetah1.jpg", "colour": "white"}),
)


def _speech_set(folder: Path) -> list[Message]:
    """Gradio's clips and espeak-ng sentences → ``folder``; returns notes on what was left out."""
    import soundfile as sf
    from gradio.media import get_audio

    from ..media.audio import load_audio, resample

    rows: list[dict[str, str]] = []
    notes: list[Message] = []
    for name, text in GRADIO_SPEECH.items():
        shutil.copyfile(get_audio(name), folder / name)
        rows.append({"file_name": name, "text": text, "source": "gradio.media (real speech)"})
    if shutil.which("espeak-ng") is None:
        notes.append(Message("eval.builtin.no_espeak", count=len(SPOKEN)))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for i, (voice, wpm, text) in enumerate(SPOKEN, start=1):
                raw = Path(tmp) / f"{i}.wav"
                subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(raw), text], check=True)
                audio = load_audio(raw)
                name = f"espeak-{i:02d}.wav"
                sf.write(folder / name, resample(audio.samples, audio.sample_rate, 16_000), 16_000, subtype="PCM_16")
                rows.append({"file_name": name, "text": text, "source": f"espeak-ng {voice} {wpm} wpm"})
    _write_metadata(folder, rows)
    return notes


def render_text_image(lines: tuple[str, ...], style: dict[str, Any]) -> Any:
    """One image of :data:`TEXT_IMAGES` (a ``PIL.Image``), drawn as its ``style`` says."""
    import numpy as np
    from gradio.media import get_image
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    size = style["size"]
    font = ImageFont.load_default(size=size)
    colour = style.get("colour", "black")
    line_height = int(size * 1.6)
    widths = [int(font.getlength(line)) for line in lines]
    if "photo" in style:
        image = Image.open(get_image(style["photo"])).convert("RGB")
        scale = (max(widths) + 2 * size) / image.width
        if scale > 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)))
        draw = ImageDraw.Draw(image)
        top = image.height - line_height * len(lines) - size
        for i, line in enumerate(lines):
            x = (image.width - widths[i]) // 2
            draw.text((x, top + i * line_height), line, font=font, fill=colour, stroke_width=3, stroke_fill="black")
    else:
        background = style.get("background", "white")
        image = Image.new("RGB", (max(widths) + 2 * size, line_height * len(lines) + 2 * size), background)
        draw = ImageDraw.Draw(image)
        for i, line in enumerate(lines):
            draw.text((size, size + i * line_height), line, font=font, fill=colour)
        if "rotate" in style:
            image = image.rotate(style["rotate"], expand=True, fillcolor=background)
    if "blur" in style:
        image = image.filter(ImageFilter.GaussianBlur(style["blur"]))
    if "noise" in style:
        noise = np.random.default_rng(3).normal(0, style["noise"], (image.height, image.width, 1))
        image = Image.fromarray((np.asarray(image, dtype=np.float64) + noise).clip(0, 255).astype(np.uint8))
    if style.get("half"):
        image = image.resize((image.width // 2, image.height // 2))
    return image


def _text_image_set(folder: Path) -> list[Message]:
    """Known text rendered into images (some on Gradio's photos) → ``folder``."""
    rows: list[dict[str, str]] = []
    for name, lines, style in TEXT_IMAGES:
        image = render_text_image(lines, style)
        if "jpeg" in style:
            image.save(folder / name, quality=style["jpeg"])
        else:
            image.save(folder / name)
        extras = ", ".join(f"{k} {v}" for k, v in style.items() if k in {"rotate", "blur", "noise", "jpeg"})
        source = f"rendered on gradio.media {style['photo']}" if "photo" in style else "rendered"
        rows.append(
            {"file_name": name, "text": "\n".join(lines), "source": source + (f" ({extras})" if extras else "")}
        )
    _write_metadata(folder, rows)
    return []


def _write_metadata(folder: Path, rows: list[dict[str, str]]) -> None:
    with (folder / METADATA).open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class Builtin:
    name: str
    task: str
    version: int
    build: Callable[[Path], list[Message]]
    description: str


BUILTIN: dict[str, Builtin] = {
    "speech": Builtin(
        "speech",
        "asr",
        1,
        _speech_set,
        f"{len(GRADIO_SPEECH)} real speech clips from gradio.media with checked transcripts, and {len(SPOKEN)} "
        "sentences spoken by espeak-ng (US and British voices, 150–175 words a minute)",
    ),
    "text-images": Builtin(
        "text-images",
        "ocr",
        1,
        _text_image_set,
        f"{len(TEXT_IMAGES)} images of known text in Pillow's bundled font: signs, notes, an invoice, an address, "
        "small print (9–13 px), tilted, low-contrast, blurred, noisy and low-quality JPEG text, and 3 captions "
        "drawn on gradio.media photos",
    ),
}
"""Built-in sets by name. A task's default set is the one whose ``task`` it is."""


def builtin_for(task: str) -> Builtin | None:
    return next((b for b in BUILTIN.values() if b.task == task), None)


def builtin_dataset(name: str, cache_dir: str | Path | None = None) -> Path:
    """The folder of built-in set ``name``, made on first use in ``cache_dir`` (default:
    :func:`default_cache_dir`); rebuilt when its version changes. Delete the folder to rebuild it."""
    spec = BUILTIN[name]
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    folder = root / f"{name}-v{spec.version}"
    if (folder / METADATA).is_file():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    staging.chmod(0o755)
    try:
        notes = spec.build(staging)
        if notes:
            _write_notes(staging, notes)
        try:
            staging.rename(folder)
        except OSError:  # another process built it at the same time: use theirs
            if not (folder / METADATA).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def resolve_dataset(task: str, dataset: str | None, cache_dir: str | Path | None = None) -> Dataset:
    """``dataset``: a folder, the name of a built-in set, or None for the task's built-in set."""
    task = check_task(task)
    if dataset is None:
        builtin = builtin_for(task)
        if builtin is None:
            names = ", ".join(f"{b.name} ({b.task})" for b in BUILTIN.values())
            raise DatasetError(Message("eval.no_builtin", task=task, names=names))
        dataset = builtin.name
    if Path(dataset).expanduser().is_dir() or dataset not in BUILTIN:
        return read_dataset(dataset, task)
    builtin = BUILTIN[dataset]
    if builtin.task != task:
        raise DatasetError(Message("eval.builtin_for_other", name=repr(dataset), other=builtin.task, task=task))
    return read_dataset(builtin_dataset(dataset, cache_dir), task, name=f"{dataset} (built-in)")
