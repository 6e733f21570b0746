"""Ray Serve mode (:mod:`mmdemo.serve`): the tasks on deployments of a local Ray (no external service), the page as
``python app.py --ray-address`` starts it, answering what the local app answers; replicas sharing the work and
surviving a lost one; captions and questions of different visitors batched into one pass, with the unbatched
results."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="ray[serve] is a development requirement (requirements-dev.txt)")
from ray import serve  # noqa: E402

from mmdemo.media.files import Upload  # noqa: E402
from mmdemo.ray_runner import RayRunner  # noqa: E402
from mmdemo.runner import use_runner  # noqa: E402
from mmdemo.settings import Settings  # noqa: E402
from mmdemo.tasks.captioning import answer_question, caption_image  # noqa: E402
from mmdemo.testing.server import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = sorted((ROOT / "assets" / "images").glob("*.jp*g"))


@pytest.fixture(scope="module")
def ray_cluster(app_settings: Settings) -> Iterator[str]:
    """A local Ray with every task deployment on the tiny models, as the page's own settings (fast path) run
    them; yields the cluster's address for ``python app.py --ray-address``."""
    from mmdemo.serve import tasks_app

    env = {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    ray.init(num_cpus=4, include_dashboard=False, runtime_env={"env_vars": env}, logging_level="WARNING")
    try:
        serve.run(tasks_app(app_settings), name="mmdemo", route_prefix=None)
        yield ray.get_runtime_context().gcs_address
    finally:
        serve.shutdown()
        ray.shutdown()


@contextlib.contextmanager
def _page(address: str, settings: Settings) -> Iterator[str]:
    """``python app.py --ray-address ADDRESS`` (the page outside the cluster), until it answers; yields its URL."""
    port = free_port()
    models = [arg for role, path in settings.models.items() for arg in ("--model", f"{role}={path}")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "app.py", "--port", str(port), "--ray-address", address, *models]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"the page exited {proc.returncode}: {proc.stderr.read()[-3000:]}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url, timeout=2)
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the page did not answer in 180 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _predictions(url: str, photo: str) -> dict[str, object]:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    out: dict[str, object] = {
        "caption": client.predict(handle_file(photo), api_name="/caption"),
        "describe": client.predict(handle_file(photo), api_name="/describe"),
        "vqa": client.predict(handle_file(photo), "What is in the picture?", api_name="/vqa"),
        "ocr": client.predict(handle_file(str(ROOT / "assets/images/thanks-for-watching.jpg")), api_name="/ocr")[1],
    }
    generated = client.predict(
        prompt="a red fox in the snow", num_images=2, seed=1234, randomize_seed=False, api_name="/generate"
    )
    out["generate"] = [Path(item["image"]).read_bytes() for item in generated[0]], generated[1]
    trip = client.predict(handle_file(photo), 1, 7, api_name="/round_trip")
    took = re.compile(r" · \d+\.\d s · ")  # how long it took (round_trip.run) is the one thing that differs
    out["round_trip"] = trip[0], Path(trip[1]).read_bytes(), trip[2], took.sub(" · ", trip[3])
    assert took.search(trip[3])
    emotion = client.predict(handle_file(str(ROOT / "assets/audio/recording1.wav")), api_name="/emotion")
    out["emotion"] = emotion[0]
    summary = client.predict(handle_file(str(ROOT / "assets/videos/thanks-for-watching.mp4")), api_name="/summarize")
    out["summarize"] = summary[0]
    with pytest.raises(Exception, match=r"(?i)image"):
        client.predict(handle_file(str(ROOT / "README.md")), api_name="/caption")
    return out


def test_endpoints_in_ray_mode_answer_as_local_mode(ray_cluster: str, app_url: str, app_settings: Settings) -> None:
    """The page of ``python app.py --ray-address`` runs every task on the deployments: same answers as the app
    with the models in process, same error for a bad file."""
    photo = str(ROOT / "assets/images/lion.jpg")
    local = _predictions(app_url, photo)
    with _page(ray_cluster, app_settings) as url:
        remote = _predictions(url, photo)
    assert remote == local
    rows = RayRunner().replicas()
    served = [row for row in rows if row.get("replica")]
    assert {row["group"] for row in served} == {"captioning", "ocr", "text_to_image", "speech", "video"}, rows
    busy = {row["group"] for row in served if any(m["state"] != "not loaded" for m in row["models"])}
    assert busy == {"captioning", "ocr", "text_to_image", "speech", "video"}  # the replicas did the work


@pytest.fixture(scope="module")
def two_captioners(ray_cluster: str, app_settings: Settings) -> Iterator[RayRunner]:
    """A second application: the captioning deployment alone, with 2 replicas and batching off."""
    from mmdemo.serve import deployments

    serve.run(
        deployments(app_settings, ["captioning"], num_replicas=2, user_config={"batching": False})["captioning"],
        name="two",
        route_prefix=None,
    )
    runner = RayRunner("two")
    use_runner(runner)
    try:
        yield runner
    finally:
        use_runner(None)
        serve.delete("two")


def _replica_actors(app: str, group: str) -> list[str]:
    return [
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["namespace"] == "serve" and a["name"].startswith(f"SERVE_REPLICA::{app}#{group}#")
    ]


def test_two_replicas_share_the_work_and_survive_losing_one(two_captioners: RayRunner, app_manager) -> None:
    photos = [Upload(p, p.name) for p in PHOTOS] * 4  # 16 requests at once
    expected = {p.name: caption_image(p, manager=app_manager).text for p in PHOTOS}

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        texts = list(pool.map(lambda p: caption_image(p).text, photos, timeout=120))
    assert texts == [expected[p.name] for p in photos]
    assert len(two_captioners.served) == 2 and min(two_captioners.served.values()) >= 1  # both replicas served

    victim = _replica_actors("two", "captioning")[0]
    two_captioners.retried = 0
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(lambda p: caption_image(p).text, p) for p in photos]
        concurrent.futures.wait(futures, timeout=120, return_when=concurrent.futures.FIRST_COMPLETED)
        ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)  # mid-run
        _, pending = concurrent.futures.wait(futures, timeout=180)
    assert not pending  # none hung
    assert [f.result() for f in futures] == [expected[p.name] for p in photos]  # none failed
    assert two_captioners.retried >= 1  # the kill did hit requests in flight: they were sent again


def test_captions_of_different_visitors_are_batched_with_the_unbatched_results(ray_cluster: str, app_manager) -> None:
    """Concurrent captions on the (batching) deployment share passes, and each is the caption it gets alone."""
    runner = RayRunner("mmdemo")
    use_runner(runner)
    try:
        photos = [Upload(p, p.name) for p in PHOTOS] * 2
        with concurrent.futures.ThreadPoolExecutor(len(photos)) as pool:
            texts = list(pool.map(lambda p: caption_image(p).text, photos, timeout=120))
        (row,) = [r for r in runner.replicas() if r["group"] == "captioning"]
    finally:
        use_runner(None)
    assert texts == [caption_image(p, manager=app_manager).text for p in photos]
    sizes = row["batches"]["mmdemo.tasks.captioning:caption_image"]
    assert max(int(size) for size in sizes) > 1, row["batches"]


def test_questions_of_different_visitors_are_batched_with_the_unbatched_answers(ray_cluster: str, app_manager) -> None:
    """Concurrent questions (of two lengths in tokens) on the batching deployment share passes, apart from the
    captions, and each visitor gets the answer they get alone."""
    calls = [(Upload(p, p.name), q) for p in PHOTOS for q in ("What is in the picture?", "How many?")]
    runner = RayRunner("mmdemo")
    use_runner(runner)
    try:
        with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
            answers = list(pool.map(lambda call: answer_question(*call).answer, calls, timeout=120))
        (row,) = [r for r in runner.replicas() if r["group"] == "captioning"]
    finally:
        use_runner(None)
    assert answers == [answer_question(p, q, manager=app_manager).answer for p, q in calls]
    assert len(set(answers)) > 1
    sizes = row["batches"]["mmdemo.tasks.captioning:answer_question"]
    assert max(int(size) for size in sizes) > 1, row["batches"]


def test_a_visitor_who_leaves_cancels_the_ray_work(ray_cluster: str) -> None:
    """The page's stop check (its client gone) cancels the call on the replica: it stops at its next step."""
    from mmdemo.errors import Cancelled
    from mmdemo.tasks.text_to_image import generate_images

    gone = False
    runner = RayRunner("mmdemo", stop_check=lambda: gone)
    use_runner(runner)
    steps: list[float] = []

    def progress(fraction: float, message: object) -> None:
        nonlocal gone
        steps.append(fraction)
        gone = len(steps) >= 2

    try:
        began = time.monotonic()
        with pytest.raises(Cancelled):
            generate_images("a lighthouse", steps=50, width=256, height=256, num_images=4, progress=progress)
        stopped = time.monotonic() - began
    finally:
        use_runner(None)
    assert stopped < 60
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        (row,) = [r for r in runner.replicas() if r["group"] == "text_to_image"]
        if row["running"] == 0:
            break
        time.sleep(0.5)
    assert row["running"] == 0  # the replica is free again


@pytest.mark.parametrize("path", ["deploy/ray/serve_config.yaml", "deploy/kuberay/rayservice.yaml"])
def test_config_files_are_valid_serve_configs_of_this_app(path: str) -> None:
    """The shipped config files parse as Ray Serve's own schema, name this app's import paths and only
    deployments it has, and give each deployment options Serve accepts."""
    import yaml
    from ray.serve.schema import DeploymentSchema, ServeDeploySchema

    from mmdemo.ray_runner import GROUPS
    from mmdemo.serve import Batching

    documents = list(yaml.safe_load_all((ROOT / path).read_text()))
    spec = documents[0]
    config = yaml.safe_load(spec["spec"]["serveConfigV2"]) if spec.get("kind") == "RayService" else spec
    schema = ServeDeploySchema.model_validate(config)
    for deployment in config["applications"][0]["deployments"]:  # Serve ignores unknown keys: a typo would pass
        assert set(deployment) <= set(DeploymentSchema.model_fields), deployment
        Batching.from_config(deployment.get("user_config"))  # unknown keys refused
    (application,) = schema.applications
    entry = {"mmdemo.serve:app": "page", "mmdemo.serve:tasks": "cluster"}[application.import_path]
    assert {d.name for d in application.deployments} == {entry, *GROUPS}
    module, _, attribute = application.import_path.partition(":")
    assert getattr(__import__(module, fromlist=[attribute]), attribute) is not None


def test_serve_run_starts_the_deployments_and_the_page(ray_cluster: str, tiny_settings: Settings) -> None:
    """``serve run mmdemo.serve:app`` (settings from the environment, as a user sets them): the page answers on its
    port, and its captions come from the deployments (the Cluster panel's replicas hold the model)."""
    import json

    from gradio_client import Client, handle_file

    from mmdemo.models.manager import ModelManager

    port = free_port()
    env_vars = {f"MMDEMO_{role.upper()}_MODEL": path for role, path in tiny_settings.models.items()}
    env_vars.update(MMDEMO_DEVICE="cpu", HF_HUB_OFFLINE="1", GRADIO_SERVER_PORT=str(port), PYTHONPATH=str(ROOT))
    serve_cli = [sys.executable, "-c", "from ray.serve.scripts import cli; cli()"]  # the `serve` command
    runtime_env = json.dumps({"env_vars": env_vars})
    command = [*serve_cli, "run", "mmdemo.serve:app", "--address", ray_cluster, "--name", "served",
               "--runtime-env-json", runtime_env, "--non-blocking"]  # fmt: skip
    # (blocking, its Ctrl+C would shut Serve down, the other applications of this cluster too)
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert proc.poll() in (None, 0), proc.stderr.read()[-3000:]  # (it returns once deployed)
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url, timeout=2)
                break
            time.sleep(1)
        caption = Client(url, verbose=False).predict(handle_file(str(PHOTOS[0])), api_name="/caption")
        runner = RayRunner("served")
        (row,) = [r for r in runner.replicas() if r["group"] == "captioning"]
    finally:
        proc.wait(timeout=300)
        serve.delete("served")
    assert [m["state"] for m in row["models"] if m["role"] == "captioner"] == ["ready"]
    same = ModelManager(Settings.from_env(env_vars))  # the settings the replicas read from the same variables
    assert caption == caption_image.__wrapped__(str(PHOTOS[0]), manager=same).text
