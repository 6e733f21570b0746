"""``python app.py`` itself, as a user starts it: the UI is served fast, bad start-ups fail cleanly."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.usefixtures("app_process")  # every test starts `python app.py`


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def env(tiny_model_dirs: dict[str, Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMDEMO_")}
    env.update({f"MMDEMO_{role.upper()}_MODEL": str(path) for role, path in tiny_model_dirs.items()})
    env.update(MMDEMO_DEVICE="cpu", HF_HUB_OFFLINE="1")
    return env


@contextlib.contextmanager
def _serve(env: dict[str, str], *args: str) -> Iterator[int]:
    """``python app.py --port P *args`` until its page answers; yields the port."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), *args], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "app exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the UI was not served within 120 s"
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def running_app(env: dict[str, str]) -> Iterator[int]:
    with _serve(env) as port:
        yield port


def test_serves_the_ui(running_app: int) -> None:
    port = running_app
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=10) as response:
        config = response.read().decode()
    assert "caption" in config and "vqa" in config  # the named endpoints are there


def test_port_in_use_is_a_clean_error(running_app: int, env: dict[str, str]) -> None:
    port = running_app
    proc = subprocess.run(
        [sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1
    assert "cannot start the server" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "captioner"], "ROLE=ID_OR_FOLDER"),
        (["--auth", "nobody"], "user:password"),
        (["--preload", "nonsense"], "unknown role"),
        (["--model-dir", "/no/such/folder"], "not a folder"),
    ],
)
def test_bad_flags_exit_2(env: dict[str, str], args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "app.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_share_link_failure_is_explained(env: dict[str, str]) -> None:
    """Offline, ``--share`` cannot reach Gradio's tunnel: the app still serves locally and says why."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--share", "--port", str(port)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 120
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if "share link could not be created" in line or not line:
                break
        assert "share link could not be created" in lines[-1], "".join(lines)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
    finally:
        proc.terminate()
        proc.wait(30)


def test_auth_rejects_a_wrong_password(env: dict[str, str], tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("# team\nbob:hunter2\n")
    with _serve(env, "--auth", "alice:secret", "--auth-file", str(users)) as port:
        base = f"http://127.0.0.1:{port}"

        def login(user: str, password: str) -> int:
            data = urllib.parse.urlencode({"username": user, "password": password}).encode()
            try:
                with urllib.request.urlopen(f"{base}/login", data=data, timeout=10) as response:
                    return response.status
            except urllib.error.HTTPError as err:
                return err.code

        assert login("alice", "wrong") in (400, 401)
        assert login("mallory", "secret") in (400, 401)
        assert login("alice", "secret") == 200
        assert login("bob", "hunter2") == 200
        with pytest.raises(urllib.error.HTTPError) as err:  # the API needs a login too
            urllib.request.urlopen(f"{base}/config", timeout=10)
        assert err.value.code == 401
