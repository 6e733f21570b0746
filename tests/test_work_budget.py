"""Every way to make an image counts against the client's text-to-image budget (``MMDEMO_T2I_CLIENT_MP_STEPS``):
the Text to image tab, the round trip and Evaluate's text-to-image sets, in the backend and over HTTP. An
evaluation that runs out keeps the items it scored and says why it stopped."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from mmdemo.errors import BudgetError
from mmdemo.evaluation.datasets import read_dataset
from mmdemo.evaluation.runner import EvalOptions, evaluate
from mmdemo.models.manager import ModelManager
from mmdemo.settings import Settings
from mmdemo.tasks.round_trip import round_trip
from mmdemo.tasks.text_to_image import generate_images
from mmdemo.testing.http import call_raw, upload
from mmdemo.ui.admission import Admission

PROMPTS = ("a red bus", "a lighthouse", "two cats")


@pytest.fixture(scope="module")
def one_image(shared_manager: ModelManager) -> float:
    """The megapixel-steps of one image at the model's own size and steps (what each item of a set costs)."""
    charged: list[float] = []
    generate_images("a cat", seed=0, manager=shared_manager, clip_score=False, charge=charged.append)
    assert len(charged) == 1 and charged[0] > 0
    return charged[0]


def _prompt_set(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps({"prompt": p}) + "\n" for p in PROMPTS)
    (folder / "metadata.jsonl").write_text(lines, encoding="utf-8")
    return folder


def test_a_round_trip_charges_its_generated_image(shared_manager: ModelManager, one_image: float) -> None:
    photo = Image.new("RGB", (64, 48), (200, 60, 40))
    charged: list[float] = []
    round_trip(photo, seed=1, manager=shared_manager, charge=charged.append)
    assert charged == [pytest.approx(one_image)]
    admission = Admission(work_per_hour=one_image * 0.5)
    with pytest.raises(BudgetError, match="You have used your text-to-image work for now"):
        round_trip(photo, seed=1, manager=shared_manager, charge=lambda amount: admission.charge_work("ann", amount))


def test_an_evaluation_stops_where_the_budget_ends(shared_manager: ModelManager, one_image: float, tmp_path: Path):
    data = read_dataset(_prompt_set(tmp_path / "prompts"), "t2i")
    admission = Admission(work_per_hour=one_image * 1.5)  # one image, not two
    charge = lambda amount: admission.charge_work("ann", amount)  # noqa: E731
    result = evaluate(data, shared_manager, EvalOptions(charge=charge), progress=False)
    assert [item.id for item in result.items] == ["line 1"]
    assert result.items[0].ok and result.items[0].prediction is not None
    stopped = [note for note in result.notes if "Stopped after" in str(note)]
    assert len(stopped) == 1
    assert str(stopped[0]).startswith("Stopped after 1 of 3 items: You have used your text-to-image work for now")
    assert "已评估 3 项中的 1 项后停止" in stopped[0].text("zh-CN")
    with pytest.raises(BudgetError):  # nothing scored: the refusal itself, as the Text to image tab shows it
        evaluate(data, shared_manager, EvalOptions(charge=charge), progress=False)
    unlimited = evaluate(data, shared_manager, EvalOptions(), progress=False)  # the CLI: no budget
    assert len(unlimited.items) == 3


# --- over HTTP: the page's handlers charge the caller --------------------------------------------------------


@pytest.fixture(scope="module")
def budget_app(launch_app: Any, app_settings: Settings, one_image: float) -> Iterator[str]:
    settings = app_settings.replace(trusted_proxies=("127.0.0.1",), t2i_client_megapixel_steps_per_hour=one_image * 1.5)
    with launch_app(settings) as url:
        yield url


def _as(n: int) -> dict[str, str]:
    return {"x-forwarded-for": f"10.5.0.{n}"}


def test_the_round_trip_endpoint_charges_the_client(budget_app: str, tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), (30, 120, 200)).save(path)
    photo = upload(budget_app, str(path), headers=_as(1))
    first = call_raw(budget_app, "round_trip", [photo, 0, 1], headers=_as(1), timeout=300)
    assert first.event == "complete", first.message
    second = call_raw(budget_app, "round_trip", [photo, 0, 1], headers=_as(1), timeout=300)
    assert second.event == "error" and "You have used your text-to-image work for now" in str(second.message)
    other = upload(budget_app, str(path), headers=_as(2))
    assert call_raw(budget_app, "round_trip", [other, 0, 1], headers=_as(2), timeout=300).event == "complete"


def test_the_evaluate_endpoint_charges_the_client(budget_app: str, tmp_path: Path) -> None:
    folder = _prompt_set(tmp_path / "prompts")
    archive = tmp_path / "prompts.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(folder / "metadata.jsonl", "prompts/metadata.jsonl")
    dataset = upload(budget_app, str(archive), headers=_as(3))
    done = call_raw(budget_app, "evaluate", [dataset, "t2i", 0, "voice", 0], headers=_as(3), timeout=600)
    assert done.event == "complete", done.message
    summary, items = done.data[1], done.data[3]
    assert "Stopped after 1 of 3 items: You have used your text-to-image work for now" in summary
    assert len(items["data"]) == 1  # the scored item is kept and shown
    again = call_raw(budget_app, "evaluate", [dataset, "t2i", 0, "voice", 0], headers=_as(3), timeout=600)
    assert again.event == "error" and "You have used your text-to-image work for now" in str(again.message)
