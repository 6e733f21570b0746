"""The "Cluster" panel, shown when the tasks run on Ray Serve (README, Scaling out): each deployment's replicas,
the node each runs on, what each is running, the calls this page is waiting for, the passes that visitors shared
(batching), and the state of the models each replica holds (with why one could not load). Ray's own dashboard
(port 8265 of the head node) has the rest.

The runner is duck-typed (anything with ``replicas()``): this module imports nothing of Ray."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from ..messages import Message
from .i18n import request_locale, tr
from .models_panel import STATES

COLUMNS = [
    Message("cluster.column.deployment"),
    Message("cluster.column.replica"),
    Message("cluster.column.node"),
    Message("cluster.column.running"),
    Message("cluster.column.waiting"),
    Message("cluster.column.batched"),
    Message("cluster.column.models"),
    Message("cluster.column.problem"),
]


def shared_passes(batches: dict[str, dict[Any, int]], locale: str = "en") -> str:
    """What a replica's ``batches`` (task or pass → batch size → how many ran) say about sharing: per task, the
    passes that several visitors shared and the most visitors in one (a pass of one visitor is not sharing)."""
    cells = []
    for name, sizes in sorted(batches.items()):
        shared = {int(size): count for size, count in sizes.items() if int(size) > 1}
        if shared:
            task = name.rsplit(":", 1)[-1]
            cells.append(Message("cluster.batched", task=task, passes=sum(shared.values()), largest=max(shared)))
    return ", ".join(cell.text(locale) for cell in cells)


def cluster_rows(replicas: list[dict[str, Any]], locale: str = "en") -> list[list[Any]]:
    """One row per replica (:meth:`mmdemo.ray_runner.RayRunner.replicas`), cells in ``locale``."""
    rows = []
    for r in replicas:
        models = r.get("models", [])
        states = ", ".join(f"{m['role']}: {STATES[m['state']].text(locale) if m['state'] in STATES else m['state']}"
                           for m in models)  # fmt: skip
        problems = "; ".join(m["problem"] for m in models if m.get("problem")) or r.get("error", "")
        rows.append(
            [r["group"], r.get("replica", ""), str(r.get("node", ""))[:12], r.get("running", 0), r.get("waiting", 0),
             shared_passes(r.get("batches", {}), locale), states, problems]
        )  # fmt: skip
    return rows


def cluster_panel(runner: Any) -> tuple[gr.Dataframe, Callable[[], dict[str, Any]]]:
    """The panel (folded) for ``runner``; returns its table and refresh fn (the page refreshes it on load)."""

    def refresh() -> dict[str, Any]:
        locale = request_locale()
        return {"headers": [c.text(locale) for c in COLUMNS], "data": cluster_rows(runner.replicas(), locale)}

    with gr.Accordion(tr("Cluster: Ray Serve deployments and replicas"), open=False, elem_id="cluster-panel"):
        table = gr.Dataframe(headers=[str(c) for c in COLUMNS], interactive=False, wrap=True, elem_id="cluster-status")
        button = gr.Button(tr("Refresh"), size="sm")
    button.click(refresh, None, table, api_visibility="private", queue=False)
    return table, refresh
