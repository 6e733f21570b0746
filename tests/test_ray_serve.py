"""Ray Serve mode (:mod:`mmdemo.serve`): the tasks on deployments of a local Ray (no external service), the page as
``python app.py --ray-address`` starts it, answering what the local app answers; replicas sharing the work and
surviving a lost one; captions and questions of different visitors batched into one pass, with the unbatched
results."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import os
import re
import subprocess
import sys
import time
import urllib.request
import zipfile
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
from mmdemo.ui.cluster_panel import cluster_rows  # noqa: E402

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


def _predictions(url: str, photo: str, batch: list[str]) -> dict[str, object]:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    out: dict[str, object] = {
        "caption": client.predict(handle_file(photo), api_name="/caption"),
        "caption_batch": client.predict([handle_file(f) for f in batch], True, "", api_name="/caption_batch")[0],
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
    emotion = client.predict(handle_file(str(ROOT / "assets/audio/heath_ledger.mp3")), api_name="/emotion")
    out["emotion"] = emotion[0], emotion[2]  # the estimate, the transcript
    summary = client.predict(handle_file(str(ROOT / "assets/videos/thanks-for-watching.mp4")), api_name="/summarize")
    out["summarize"] = summary[0], summary[3]  # the summary, the transcript
    with pytest.raises(Exception, match=r"(?i)image"):
        client.predict(handle_file(str(ROOT / "README.md")), api_name="/caption")
    return out


def _photos_and_a_zip(folder: Path) -> list[str]:
    """Many photos: two photos, and a zip of two more (in a folder) and a file that is not a photo."""
    archive = folder / "holiday.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for photo in PHOTOS[2:4]:
            zf.write(photo, f"beach/{photo.name}")
        zf.writestr("readme.txt", "not a photo")
    return [str(PHOTOS[0]), str(PHOTOS[1]), str(archive)]


def test_endpoints_in_ray_mode_answer_as_local_mode(
    ray_cluster: str, app_url: str, app_settings: Settings, tmp_path: Path
) -> None:
    """The page of ``python app.py --ray-address`` runs every task on the deployments: same answers as the app
    with the models in process, same error for a bad file."""
    photo, batch = str(ROOT / "assets/images/lion.jpg"), _photos_and_a_zip(tmp_path)
    local = _predictions(app_url, photo, batch)
    with _page(ray_cluster, app_settings) as url:
        remote = _predictions(url, photo, batch)
    assert remote == local
    assert re.match(r"\[0:0\d\.\d–0:0\d\.\d\] \w", local["emotion"][1]), local["emotion"]  # (a transcript to compare)
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
    # The Cluster panel says so: the passes visitors shared, and the most visitors in one.
    shared = {int(size): n for size, n in sizes.items() if int(size) > 1}
    (cells,) = [cells for cells in cluster_rows([row]) if cells[0] == "captioning"]
    assert f"caption_image: {sum(shared.values())} × up to {max(shared)} visitors" in cells[5], cells


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


def test_voice_windows_of_different_visitors_share_passes_with_the_unbatched_results(
    ray_cluster: str, app_manager
) -> None:
    """Concurrent voice emotion analyses on the ``speech`` deployment: their windows of the same length share passes
    of the voice model (each analysis still its own pipeline: progress, transcription, the words), and each visitor
    gets the result they get alone."""
    from mmdemo.tasks.audio_emotion import AnalysisOptions, analyze_emotion

    clips = [Upload(ROOT / "assets/audio" / name, name) for name in ("heath_ledger.mp3", "recording1.wav")] * 3
    options = AnalysisOptions(window_seconds=1.0, hop_seconds=0.5, batch_size=2)
    runner = RayRunner("mmdemo")
    use_runner(runner)
    try:
        with concurrent.futures.ThreadPoolExecutor(len(clips)) as pool:
            results = list(pool.map(lambda clip: analyze_emotion(clip, options=options), clips, timeout=300))
        (row,) = [r for r in runner.replicas() if r["group"] == "speech"]
    finally:
        use_runner(None)
    tolerance = 1e-6 if str(app_manager.dtype) == "torch.float32" else 1e-2  # (bf16 sums in another order)
    for clip, result in zip(clips, results, strict=True):
        alone = analyze_emotion(clip, options=options, manager=app_manager)
        assert result.acoustic == pytest.approx(alone.acoustic, abs=tolerance)
        assert [w.probabilities for w in result.windows] == [
            pytest.approx(w.probabilities, abs=tolerance) for w in alone.windows
        ]
        assert (result.top, result.text, result.notes) == (alone.top, alone.text, alone.notes)
        assert result.transcript.segments == alone.transcript.segments
    sizes = row["batches"]["mmdemo.tasks.audio_emotion:voice_rows"]
    assert max(int(size) for size in sizes) > 1, row["batches"]


def test_whisper_windows_of_different_visitors_share_passes_on_a_gpu_style_replica(
    ray_cluster: str, app_settings: Settings
) -> None:
    """The ``speech`` deployment as a GPU replica runs it (transformers Whisper: the CPU fast path off): concurrent
    transcriptions of different visitors share Whisper passes (the windows' decoding and the files' language
    detection), and each visitor gets the transcript they get alone. (A CPU replica's CTranslate2 decodes each file
    long-form, conditioned on its own text: nothing to share; the deployment ``mmdemo`` shows it.)"""
    from mmdemo.models.manager import ModelManager
    from mmdemo.serve import deployments
    from mmdemo.tasks.transcription import transcribe

    settings = app_settings.replace(cpu_fast_path=False)
    serve.run(deployments(settings, ["speech"])["speech"], name="gpu_speech", route_prefix=None)
    from gradio.media import get_audio

    names = ("cate_blanch.mp3", "cate_blanch_2.mp3", "heath_ledger.mp3")
    clips = [Upload(Path(get_audio(name)), name) for name in names] * 2
    local = ModelManager(settings)
    runner = RayRunner("gpu_speech")
    use_runner(runner)
    try:
        for language in ("en", None):  # given, then detected once per file
            with concurrent.futures.ThreadPoolExecutor(len(clips)) as pool:
                results = list(pool.map(functools.partial(transcribe, language=language, chunk_seconds=2.0), clips))
            for clip, result in zip(clips, results, strict=True):
                alone = transcribe(clip, language=language, chunk_seconds=2.0, manager=local)
                assert (result.segments, result.language) == (alone.segments, alone.language)
                assert result.chunks == alone.chunks > 0
        (row,) = [r for r in runner.replicas() if r["group"] == "speech"]
    finally:
        use_runner(None)
        serve.delete("gpu_speech")
    for name in ("whisper_tokens", "whisper_languages"):
        sizes = row["batches"][f"mmdemo.tasks.transcription:{name}"]
        assert max(int(size) for size in sizes) > 1, row["batches"]


def test_a_visitor_who_leaves_stops_waiting_for_a_shared_pass() -> None:
    """A request waiting in a replica for its shared pass (voice windows) stops when its visitor leaves: Cancelled
    in its thread at once, and its part taken out of the batch (the waiting coroutine cancelled)."""
    import asyncio
    import threading

    from mmdemo.errors import Cancelled
    from mmdemo.runner import Part
    from mmdemo.serve import TaskWorker

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    cancelled = threading.Event()

    async def never(part: Part) -> list[object]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return []

    worker = object.__new__(TaskWorker)  # its sharing alone, without a replica around it
    vars(worker).update(loop=loop, _passes=never)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    began = time.monotonic()
    try:
        with pytest.raises(Cancelled):
            worker._share(stop, Part(len, [1, 2], "key", {}))
        assert time.monotonic() - began < 2 and cancelled.wait(5)
    finally:
        loop.call_soon_threadsafe(loop.stop)


def _batch_steps(steps: list[tuple[float, object]]) -> list[tuple[float, str]]:
    """The batch's own progress steps (a model's loading steps differ: loaded already, or not)."""
    return [(f, str(m)) for f, m in steps if getattr(m, "key", "").startswith("batch.")]


def test_many_photos_run_on_the_captioning_deployment_with_the_local_rows(
    ray_cluster: str, app_manager, app_settings: Settings, tmp_path: Path
) -> None:
    """Many photos in Ray mode (photos and a zip, the text in each and a question): the rows, notes and progress
    of the local run; the page's own manager loads no model, the captioning replica holds the text reader and the
    question answerer it ran for the batch, and computes with the threads a process has here."""
    from mmdemo.models.manager import ModelManager
    from mmdemo.tasks.batch_caption import caption_batch

    files = [Upload(Path(f), Path(f).name) for f in _photos_and_a_zip(tmp_path)]
    asked = {"read_text": True, "question": "What is in the picture?"}
    local_steps: list[tuple[float, object]] = []
    local = caption_batch(files, **asked, manager=app_manager, progress=lambda f, m: local_steps.append((f, m)))
    page = ModelManager(app_settings)  # the page's manager in Ray mode
    runner = RayRunner("mmdemo")
    use_runner(runner)
    steps: list[tuple[float, object]] = []
    try:
        remote = caption_batch(files, **asked, manager=page, progress=lambda f, m: steps.append((f, m)))
        (row,) = [r for r in runner.replicas() if r["group"] == "captioning"]
    finally:
        use_runner(None)
    assert remote.records() == local.records() and len(remote.rows) == 4 and all(r.caption for r in remote.rows)
    assert (remote.notes, remote.model_ids) == (local.notes, local.model_ids)
    assert _batch_steps(steps) == _batch_steps(local_steps) != []
    assert sum(page.load_count.values()) == 0, page.load_count
    assert sum(runner.served.values()) == 1
    torch = pytest.importorskip("torch")
    assert row["threads"] == torch.get_num_threads()  # a quarter of a CPU: the machine's cores, as in process
    states = {m["role"]: m["state"] for m in row["models"]}
    assert {states["captioner"], states["ocr"], states["vqa"]} == {"ready"}, row["models"]


def test_the_speech_evaluation_set_runs_on_the_deployment(
    ray_cluster: str, app_manager, app_settings: Settings, tmp_path: Path
) -> None:
    """Evaluate's transcription set in Ray mode: each recording transcribed by the ``speech`` deployment, with the
    local run's transcripts and scores; the page's own manager loads no model."""
    import json

    from mmdemo.evaluation.datasets import read_dataset
    from mmdemo.evaluation.runner import evaluate
    from mmdemo.models.manager import ModelManager

    rows = []
    for name in ("recording1.wav", "heath_ledger.mp3"):
        (tmp_path / name).write_bytes((ROOT / "assets/audio" / name).read_bytes())
        rows.append(json.dumps({"file_name": name, "text": "i am so happy to see you"}))
    (tmp_path / "metadata.jsonl").write_text("\n".join(rows) + "\n")
    dataset = read_dataset(tmp_path, "asr")
    local = evaluate(dataset, app_manager, progress=False)
    page = ModelManager(app_settings)
    runner = RayRunner("mmdemo")
    use_runner(runner)
    try:
        remote = evaluate(dataset, page, progress=False)
    finally:
        use_runner(None)
    assert [(r.prediction, r.error, r.scores) for r in remote.items] == [
        (r.prediction, r.error, r.scores) for r in local.items
    ]
    assert all(r.ok for r in remote.items) and remote.aggregates == local.aggregates
    assert sum(page.load_count.values()) == 0, page.load_count
    assert sum(runner.served.values()) == 2


def test_a_model_that_can_never_load_keeps_its_replica_and_a_failed_load_replaces_it(
    ray_cluster: str, app_settings: Settings, tmp_path: Path
) -> None:
    """A model whose files are not there (a missing folder: a new replica would miss it too) gives the request its
    message and leaves the replica healthy, with the problem in the Cluster panel's rows; a load of files that
    are there that fails (a broken config here, out of memory on a GPU) makes the replica unhealthy: Serve
    replaces it, and the new one starts clean."""
    from mmdemo.errors import ModelUnavailableError
    from mmdemo.ray_runner import _describe_all
    from mmdemo.serve import Cluster, deployments
    from mmdemo.tasks.ocr import read_text

    broken = tmp_path / "broken-captioner"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    models = {**app_settings.models, "captioner": str(broken), "ocr": str(tmp_path / "no-such-ocr")}
    bound = deployments(app_settings.replace(models=models), ["captioning", "ocr"], health_check_period_s=1)
    entry = serve.deployment(Cluster).options(name="cluster", ray_actor_options={"num_cpus": 0})
    serve.run(entry.bind(*bound.values()), name="faulty", route_prefix=None)
    runner = RayRunner("faulty")
    use_runner(runner)
    photo = Upload(PHOTOS[0], PHOTOS[0].name)
    try:
        first = {group: _replica_actors("faulty", group) for group in ("captioning", "ocr")}
        with pytest.raises(ModelUnavailableError):
            read_text(photo)
        with pytest.raises(ModelUnavailableError):
            caption_image(photo)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _replica_actors("faulty", "captioning") in ([], first["captioning"]):
            time.sleep(1)
        replaced = _replica_actors("faulty", "captioning")
        time.sleep(5)  # five more health checks of the OCR replica
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # no sync Ray wait in a running loop (Playwright's)
            (ocr,) = pool.submit(_describe_all, runner.handle("ocr")).result()
        kept = _replica_actors("faulty", "ocr")
        status = serve.status().applications["faulty"].deployments
    finally:
        use_runner(None)
        serve.delete("faulty")
    assert replaced and replaced != first["captioning"]  # the failed load: a new replica
    assert kept == first["ocr"] and kept[0].endswith(f"#{ocr['replica']}")  # the missing model: the same replica,
    assert status["ocr"].status == "HEALTHY"  # healthy
    (problem,) = [m for m in ocr["models"] if m["problem"]]
    assert problem["role"] == "ocr" and problem["lasting"] and "that folder does not exist" in problem["problem"]


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


@pytest.mark.parametrize(
    ("source", "problem", "healthy"),
    [
        ("missing (offline)", "not in the local Hugging Face cache and offline mode is on", True),
        ("missing folder", "that folder does not exist.", True),
        ("missing package", "the Python package 'x' that carries it is not installed.", True),
        ("Hub (downloads on first use)", "could not be downloaded from the Hugging Face Hub (timeout)", True),
        ("local folder", "loading its files failed (OutOfMemoryError: CUDA out of memory)", False),
        ("HF cache", "loading its files failed (RuntimeError: CUDA error: an illegal memory access)", False),
        ("HF cache", "", True),
    ],
)
def test_only_a_problem_a_new_replica_may_not_have_makes_a_replica_unhealthy(
    source: str, problem: str, healthy: bool
) -> None:
    """A model that can never load here (not installed, offline, the Hub unreachable) leaves the replica healthy
    (Serve would replace it again and again) and is reported in its rows; a failed load of files that are here
    (out of memory, anything unexpected) makes it unhealthy, so that Serve replaces it. Whichever model it is: a
    captioning replica loads the text reader for a batch too."""
    import asyncio
    import types

    from mmdemo.models.types import ModelStatus
    from mmdemo.serve import TaskWorker

    rows = [
        ModelStatus("captioner", "Image captioning", "m", "ready", "cpu", "float32", 1, None, 0, "local folder"),
        ModelStatus("ocr", "Text reading", "m", "not loaded", None, None, 0, None, 0, source, problem),
        ModelStatus("clip", "Image-text scoring", "m", "not loaded", None, None, 0, None, 0, "HF cache"),
    ]
    worker = object.__new__(TaskWorker)  # its health and rows, without a replica around it
    vars(worker).update(
        group="captioning", roles=("captioner", "vqa"), manager=types.SimpleNamespace(status=lambda: rows),
        replica="r1", node="n1", running=0, batches={}, pool=concurrent.futures.ThreadPoolExecutor(1),
    )  # fmt: skip
    if healthy:
        worker.check_health()
    else:
        with pytest.raises(RuntimeError, match=r"^Text reading: loading its files failed"):
            worker.check_health()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # its own loop: the browser tests' may be running here
        described = pool.submit(asyncio.run, worker.describe()).result()["models"]
    shown = [(m["role"], m["problem"], m["lasting"]) for m in described]
    assert shown == [("captioner", "", False), *([("ocr", problem, healthy)] if problem else [])]


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
