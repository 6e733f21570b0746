"""Raw HTTP calls to the app, as any client can make them (gradio_client only sends well-formed values)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RawResult:
    event: str
    """``complete``, ``error``, or ``http`` (the request was refused before it was queued)."""
    data: Any
    """The outputs (``complete``), Gradio's error object (``error``), or the HTTP status and body (``http``)."""

    @property
    def message(self) -> str | None:
        """The error message a client sees, or None (success, or an error without a message)."""
        if self.event == "error":
            return self.data.get("error") if isinstance(self.data, dict) else self.data
        if self.event == "http":
            return str(self.data)
        return None


def upload(base_url: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Upload ``path`` as the browser does; returns the file object to send (``{"path", "meta", …}``)."""
    from pathlib import Path

    import httpx

    with open(path, "rb") as f:
        response = httpx.post(
            f"{base_url.rstrip('/')}/gradio_api/upload",
            files={"files": (Path(path).name, f)},
            headers=headers or {},
            timeout=60,
        )
    response.raise_for_status()
    stored = response.json()[0]
    return {"path": stored, "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}


def call_raw(
    base_url: str,
    api_name: str,
    data: Any,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 120.0,
    body: bytes | None = None,
) -> RawResult:
    """POST ``{"data": data}`` (or the raw ``body``) to ``/gradio_api/call/<api_name>`` and read the result stream."""
    import httpx

    url = f"{base_url.rstrip('/')}/gradio_api/call/{api_name.strip('/')}"
    with httpx.Client(timeout=timeout) as http:
        content = body if body is not None else json.dumps({"data": data}).encode()
        joined = http.post(url, content=content, headers={"content-type": "application/json", **(headers or {})})
        if joined.status_code != 200:
            return RawResult("http", (joined.status_code, joined.text[:500]))
        event_id = joined.json()["event_id"]
        with http.stream("GET", f"{url}/{event_id}", headers=headers or {}) as stream:
            event = None
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    return RawResult(event, json.loads(line.split(":", 1)[1]))
    return RawResult("error", "the result stream ended without a result")


def fn_index(base_url: str, api_name: str) -> int:
    """The index of the event named ``api_name`` in the app's config (what the browser sends)."""
    import httpx

    config = httpx.get(f"{base_url.rstrip('/')}/config", timeout=30).json()
    for dep in config["dependencies"]:
        if dep.get("api_name") == api_name.strip("/"):
            return int(dep["id"])
    raise KeyError(api_name)


def browser_call(
    base_url: str, api_name: str, data: Any, *, timeout: float = 120.0, headers: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """Call an endpoint as the browser does (``queue/join`` + the ``queue/data`` event stream), with ``headers``,
    and yield each message (``estimation``, ``process_starts``, ``progress``, ``process_completed`` …). Leaving the
    loop early closes the connection: the client has gone away."""
    import secrets

    import httpx

    base = base_url.rstrip("/")
    session = secrets.token_hex(8)
    body = {"data": data, "fn_index": fn_index(base, api_name), "session_hash": session, "event_data": None}
    with httpx.Client(timeout=timeout, headers=headers) as http:
        http.post(f"{base}/gradio_api/queue/join", json=body).raise_for_status()
        with http.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    yield message
                    if message.get("msg") in ("process_completed", "close_stream"):
                        return
