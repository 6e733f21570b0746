"""A simulated accelerator: the model manager's GPU paths (offload to RAM, bring back, CPU offload, failures
while moving) exercised on a machine without a GPU.

Models "placed" on it stay on the CPU (torch device ``cpu``, so tasks run as usual), but the manager counts
them on the tier ``sim:0`` with its own budget and moves them between ``sim:0`` and ``cpu`` as it would
between CUDA and RAM. Every move is recorded; moves can be made to fail half-way.
"""

from __future__ import annotations

from typing import Any

from ..models.device import Accelerator
from ..models.types import ModelSpec

TIER = "sim:0"


class SimulatedAccelerator(Accelerator):
    def __init__(self, device_bytes: int, host_bytes: int, dtype: Any = None) -> None:
        import torch

        super().__init__(torch.device("cpu"), dtype or torch.float32, {TIER: int(device_bytes), "cpu": int(host_bytes)})
        self.tier = TIER
        self.moves: list[tuple[str, str]] = []
        """(what, role) in order: ``place``, ``offload`` (CPU-offload mode), ``to_host``."""
        self.fail_place: set[str] = set()
        """Roles whose next placements fail half-way (as a CUDA out-of-memory error would)."""
        self.frees = 0
        self._roles: dict[int, str] = {}

    def place(self, spec: ModelSpec, model: Any) -> None:
        self._roles[id(model)] = spec.role
        self.moves.append(("place", spec.role))
        if spec.role in self.fail_place:
            raise RuntimeError("CUDA out of memory (simulated, half-way through the move)")

    def place_offloaded(self, spec: ModelSpec, model: Any) -> None:
        self._roles[id(model)] = spec.role
        self.moves.append(("offload", spec.role))

    def to_host(self, model: Any) -> None:
        self.moves.append(("to_host", self._roles.get(id(model), "?")))

    def free(self) -> None:
        self.frees += 1
        super().free()
