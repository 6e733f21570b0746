"""The task runner seam (:mod:`mmdemo.runner`): marked task functions are the plain functions when no runner is
configured, hand a runner exactly the call (callbacks kept on the caller's side, no model manager) when one is,
and only marked functions of the app resolve on the other side; uploads travel as their bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmdemo.media.files import Upload
from mmdemo.runner import Shipped, TaskCall, current_runner, group_of, land, resolve, ship, use_runner
from mmdemo.tasks import (
    audio_emotion,
    batch_caption,
    captioning,
    ocr,
    round_trip,
    text_to_image,
    transcription,
    video_summary,
)


class Recorder:
    def __init__(self, answer: Any = "remote answer") -> None:
        self.calls: list[TaskCall] = []
        self.answer = answer

    def run(self, call: TaskCall) -> Any:
        self.calls.append(call)
        for name, callback in call.callbacks.items():
            callback(0.5, f"{name} from afar")
        return self.answer


@pytest.fixture
def recorder() -> Any:
    runner = Recorder()
    use_runner(runner)
    yield runner
    use_runner(None)


def test_every_task_the_page_runs_is_marked_with_its_deployment() -> None:
    marked = {
        captioning.caption_image: "captioning",
        captioning.describe_image: "captioning",
        captioning.answer_question: "captioning",
        ocr.read_text: "ocr",
        text_to_image.generate_images: "text_to_image",
        round_trip.round_trip: "text_to_image",
        audio_emotion.analyze_emotion: "speech",
        transcription.transcribe: "speech",  # Evaluate's transcription set
        video_summary.summarize_video: "video",
        batch_caption.caption_photos: "captioning",  # Many photos: the models' part of caption_batch
    }
    assert {fn.__name__: group_of(fn) for fn in marked} == {fn.__name__: g for fn, g in marked.items()}
    assert group_of(captioning.caption_images) is None  # the replicas' own building blocks stay local


def test_without_a_runner_a_task_runs_here(shared_manager, real_photos: dict[str, str]) -> None:
    assert current_runner() is None
    text = captioning.caption_image(real_photos["lion.jpg"], manager=shared_manager).text
    assert text == captioning.caption_image.__wrapped__(real_photos["lion.jpg"], manager=shared_manager).text


def test_a_runner_gets_the_call_without_the_manager_and_the_callbacks_stay_here(recorder: Recorder) -> None:
    heard: list[tuple[float, str]] = []
    options = captioning.DecodingOptions(num_beams=2)
    answer = captioning.caption_image(
        "photo.jpg", prefix="a", options=options, manager=object(), progress=lambda f, m: heard.append((f, m))
    )
    assert answer == "remote answer"
    (call,) = recorder.calls
    assert (call.group, call.name, call.args) == ("captioning", "mmdemo.tasks.captioning:caption_image", ("photo.jpg",))
    assert call.kwargs == {"prefix": "a", "options": options}
    assert list(call.callbacks) == ["progress"] and heard == [(0.5, "progress from afar")]
    assert resolve(call.name) is captioning.caption_image.__wrapped__


def test_a_path_given_for_a_file_travels_as_the_file(recorder: Recorder, real_photos: dict[str, str]) -> None:
    """A replica may run on another machine: a path where a task takes a file becomes the file (its bytes
    travel); text that happens to name a file elsewhere (a prompt) stays text."""
    captioning.caption_image(real_photos["lion.jpg"])
    text_to_image.generate_images(real_photos["lion.jpg"])
    (caption, generate) = recorder.calls
    assert caption.args == (Upload(Path(real_photos["lion.jpg"]), "lion.jpg"),)
    assert generate.args == (real_photos["lion.jpg"],)


@pytest.mark.parametrize(
    "name",
    [
        "os:system",
        "subprocess:run",
        "mmdemo.tasks.captioning:caption_images",  # the app's, but not a marked task
        "mmdemo.runner:use_runner",
        "mmdemo.tasks.captioning:nothing",
    ],
)
def test_only_marked_tasks_of_the_app_resolve(name: str) -> None:
    """A replica runs what a call names: nothing but the marked task functions may be named."""
    with pytest.raises((LookupError, AttributeError)):
        resolve(name)


def test_uploads_travel_as_their_bytes(tmp_path: Path) -> None:
    source = tmp_path / "in" / "photo.jpg"
    source.parent.mkdir()
    source.write_bytes(b"\xff\xd8 not really a jpeg")
    value = (Upload(source, "My photo.jpg"), {"more": [Upload(source, "../../escape.jpg")]}, 3, "text")
    shipped = ship(value)
    assert shipped[0] == Shipped("My photo.jpg", source.read_bytes()) and shipped[2:] == (3, "text")
    landed = land(shipped, tmp_path / "out")
    assert landed[0].name == "My photo.jpg" and landed[0].path.read_bytes() == source.read_bytes()
    escaped = landed[1]["more"][0]
    assert escaped.name == "../../escape.jpg"  # shown as the visitor named it …
    assert escaped.path.parent.parent == tmp_path / "out"  # … but written inside the replica's folder only
    assert escaped.path.name == "escape.jpg"


def test_a_list_of_paths_given_for_files_travels_as_the_files(
    recorder: Recorder, real_photos: dict[str, str], tmp_path: Path
) -> None:
    """Many photos: each path of a list (or tuple) becomes its file; an Upload keeps its own name."""
    lion, named = real_photos["lion.jpg"], Upload(Path(real_photos["bus.png"]), "holiday.zip/bus.png")
    batch_caption.caption_photos(
        [lion, named], read_text=False, question="", prefix="", options=captioning.DecodingOptions(),
        batch_size=None, max_pixels=None,
    )  # fmt: skip
    (call,) = recorder.calls
    assert call.args == ([Upload(Path(lion), "lion.jpg"), named],)
    landed = land(ship(call.args), tmp_path)
    assert [(u.name, u.path.read_bytes()) for u in landed[0]] == [
        ("lion.jpg", Path(lion).read_bytes()),
        ("holiday.zip/bus.png", named.path.read_bytes()),
    ]


def test_many_photos_are_checked_budgeted_and_unpacked_here_and_captioned_by_the_runner(
    shared_manager, real_photos: dict[str, str], tmp_path: Path
) -> None:
    """``caption_batch`` with a runner: the options, the budgets, the zips' directories and the duplicates are
    settled here (a refused request sends nothing); the photos go to the ``captioning`` deployment as files named
    as the visitor sees them, and the notes made here stay in the result."""
    import zipfile

    from mmdemo.errors import InputError

    photos = [Upload(Path(real_photos[n]), n) for n in ("lion.jpg", "bus.png")]
    archive = tmp_path / "holiday.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(real_photos["lion.jpg"], "beach/lion.jpg")
        zf.writestr("notes.txt", "not a photo")
    rows = [batch_caption.PhotoRow(n, caption=f"caption {i}") for i, n in enumerate(["a", "b", "c"])]
    shipped: list[Any] = []

    class Shipping(Recorder):  # what a remote runner sends: the files' bytes, while the call runs
        def run(self, call: TaskCall) -> Any:
            shipped.append(ship(call.args))
            return super().run(call)

    runner = Shipping(batch_caption.Captioned(rows, 3, ["remote-model"]))
    use_runner(runner)
    try:
        with pytest.raises(InputError):  # too many photos: refused before anything is sent
            batch_caption.caption_batch([*photos, archive], max_photos=2, manager=shared_manager)
        assert runner.calls == []
        result = batch_caption.caption_batch(
            [*photos, photos[0], Upload(archive, "holiday.zip")], question=" Who? ", manager=shared_manager
        )
    finally:
        use_runner(None)
    (call,) = runner.calls
    assert (call.group, call.name) == ("captioning", "mmdemo.tasks.batch_caption:caption_photos")
    (sent,) = call.args
    assert [u.name for u in sent] == ["lion.jpg", "bus.png", "holiday.zip/beach/lion.jpg"]
    assert shipped[0][0][2].data == Path(real_photos["lion.jpg"]).read_bytes()
    assert call.kwargs["question"] == "Who?" and call.kwargs["max_pixels"] == shared_manager.settings.max_request_pixels
    assert "manager" not in call.kwargs and list(call.callbacks) == []
    assert (result.rows, result.batch_size, result.model_ids) == (tuple(rows), 3, ("remote-model",))
    assert [n.key for n in result.notes] == ["batch.duplicates", "batch.skipped"]
