"""A Hugging Face Space started as Spaces starts it, on this machine (tests/test_spaces_boot.py).

* :func:`spaces_environment`: the variables Spaces sets for a running Gradio Space (the documented helper
  variables, ``SYSTEM=spaces``, Gradio's server name and port) and, on ZeroGPU, the two ``spaces`` reads;
* :class:`DeviceAPI`: ZeroGPU's device API as far as start-up uses it (``spaces`` reports to it once the
  models are packed: ``POST /startup-report``; scheduling a GPU is not modelled, there is none here);
* :data:`CUDA_BUILD`: a ``sitecustomize`` folder that makes the CPU build of torch look like the CUDA build a
  ZeroGPU Space runs (see its docstring) and logs the order of the first imports;
* :func:`listening`: the addresses a port is listening on, from ``/proc/net/tcp*`` (what ``ss -ltn`` reads).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CUDA_BUILD = Path(__file__).resolve().parent / "cuda_build"


def spaces_environment(
    space_id: str, port: int, *, zerogpu: bool = False, device_api: str | None = None
) -> dict[str, str]:
    """The environment variables a Gradio Space runs with (on ZeroGPU also ``SPACES_ZERO_GPU`` and the device
    API's address)."""
    author, _, name = space_id.partition("/")
    env = {
        "SYSTEM": "spaces",
        "SPACE_ID": space_id,
        "SPACE_AUTHOR_NAME": author,
        "SPACE_REPO_NAME": name,
        "SPACE_TITLE": name,
        "SPACE_HOST": f"{author}-{name}.hf.space",
        "SPACE_CREATOR_USER_ID": "0123456789abcdef01234567",
        "CPU_CORES": "2",
        "MEMORY": "16Gi",
        "GRADIO_SERVER_NAME": "0.0.0.0",
        "GRADIO_SERVER_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    if zerogpu:
        env.update(SPACES_ZERO_GPU="true", SPACES_ZERO_DEVICE_API_URL=device_api or "http://127.0.0.1:9")
    return env


class DeviceAPI:
    """A local stand-in for ZeroGPU's device API that answers ``startup-report`` and records every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                api.requests.append(("POST", self.path.split("?")[0]))
                self.send_response(200 if self.path.startswith("/startup-report") else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> DeviceAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def listening(port: int, tables: Mapping[str, str] | None = None) -> set[str]:
    """The local addresses with a listening TCP socket on ``port`` (``0.0.0.0`` = every IPv4 interface)."""
    import ipaddress

    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        text = tables[name] if tables is not None else (Path(name).read_text() if Path(name).exists() else "")
        for line in text.splitlines()[1:]:
            fields = line.split()
            address, local_port = fields[1].split(":")
            if int(local_port, 16) != port or fields[3] != "0A":  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # little-endian 32-bit words
            found.add(str(ipaddress.ip_address(words)))
    return found
