"""What every OpenVINO model of the CPU fast path shares: the cache's variable, the precision, a telemetry-free
conversion and :class:`CompiledIR`, an IR that PyTorch code calls as a module (:mod:`.openvino` for the UNet,
:mod:`.openvino_parts` for the text encoder and the decoders)."""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import torch

log = logging.getLogger(__name__)

CACHE_ENV = "MMDEMO_OPENVINO_CACHE"
"""When set: the root of every model's OpenVINO cache (tests point it at a temporary folder)."""
TEXT_LENGTH = 77
"""CLIP's token count: the text encoder always pads to it in SD 1/2 pipelines."""


def inference_precision(dtype: Any) -> str:
    """OpenVINO's inference precision for the manager's ``dtype``: ``bf16`` for bfloat16, else ``f32``."""
    return "bf16" if dtype == torch.bfloat16 else "f32"


@contextlib.contextmanager
def telemetry_off() -> Iterator[None]:
    """OpenVINO's converter with its telemetry replaced by the package's own no-op stub (module doc)."""
    try:
        from openvino.tools.ovc import convert_impl, telemetry_stub, telemetry_utils
    except ImportError:  # another layout: convert as is
        yield
        return
    modules = [m for m in (convert_impl, telemetry_utils) if hasattr(m, "tm")]
    saved = [m.tm for m in modules]
    for module in modules:
        module.tm = telemetry_stub
    try:
        yield
    finally:
        for module, tm in zip(modules, saved, strict=True):
            module.tm = tm


class CompiledIR(torch.nn.Module):
    """An OpenVINO IR that PyTorch code calls as a module: compiled static per input shape, on first use.

    A torch module without parameters, so a pipeline counts it among its components; a ``meta`` buffer the size of
    the compiled weights (times the compilations kept) lets the model manager count the memory it takes. Moving it
    is a no-op: it lives on the CPU. Each shape a call brings is compiled static (faster than one dynamic
    compilation: :mod:`.openvino`) and the last ``kept`` compilations are kept, each with its own weights.
    """

    def __init__(self, model: Any, dtype: Any, weight_bytes: int, kept: int, name: str) -> None:
        super().__init__()
        self.model = model
        self.precision = inference_precision(dtype)
        self.properties = {"INFERENCE_PRECISION_HINT": self.precision, "PERFORMANCE_HINT": "LATENCY"}
        self.kept = kept
        self.label = name
        self._dtype = dtype
        self._requests: collections.OrderedDict[tuple[tuple[int, ...], ...], Any] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._names = [port.any_name for port in model.inputs]
        self.compile_seconds: dict[tuple[tuple[int, ...], ...], float] = {}
        """How long each shape took to compile (for the benchmark and the log)."""
        self.register_buffer(
            "openvino_weights", torch.empty(weight_bytes * kept, dtype=torch.uint8, device="meta"), False
        )

    @property
    def dtype(self) -> Any:
        return self._dtype

    @property
    def device(self) -> Any:
        return torch.device("cpu")

    def _apply(self, fn: Any, recurse: bool = True) -> CompiledIR:
        return self  # .to()/.float()/.cpu(): the compiled model stays as it is

    def compile_for(self, shapes: tuple[tuple[int, ...], ...]) -> None:
        """Compile the call with inputs of ``shapes`` now (a load does it for the usual size, so the first
        request does not wait for it)."""
        with self._lock:
            self._request(shapes)

    def _request(self, shapes: tuple[tuple[int, ...], ...]) -> Any:
        """The infer request compiled for ``shapes`` (the lock is held)."""
        import openvino

        if shapes in self._requests:
            self._requests.move_to_end(shapes)
            return self._requests[shapes]
        while len(self._requests) >= self.kept:
            self._requests.popitem(last=False)  # free the oldest before compiling: memory stays bounded
        began = time.perf_counter()
        model = self.model.clone()
        model.reshape(
            {name: openvino.PartialShape(list(shape)) for name, shape in zip(self._names, shapes, strict=True)}
        )
        compiled = openvino.Core().compile_model(model, "CPU", self.properties)
        self._requests[shapes] = compiled.create_infer_request()
        self.compile_seconds[shapes] = time.perf_counter() - began
        log.info("compiled the OpenVINO %s for %s in %.1f s", self.label, shapes[0], self.compile_seconds[shapes])
        return self._requests[shapes]

    def _infer(self, arrays: list[Any]) -> Any:
        """The first output for ``arrays`` (the IR's inputs, in order), as a float32 tensor."""
        with self._lock:
            request = self._request(tuple(a.shape for a in arrays))
            return torch.from_numpy(request.infer(arrays)[0].copy())
