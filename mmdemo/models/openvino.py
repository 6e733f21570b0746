"""The diffusion pipeline's UNet run by OpenVINO on the CPU (the CPU fast path of ``text_to_image``).

Measured on 2 cores of an AMD EPYC with AVX-512 BF16/AMX, one step of the SD-Turbo UNet (866 M parameters)
at 512²: PyTorch float32 5.2 s, PyTorch bfloat16 3.0 s, OpenVINO bf16 inference precision 2.2 s (see
``benchmarks/openvino_unet.py``). Once the UNet is in, the load swaps the text encoder and the VAE decoder for
their OpenVINO forms too (:mod:`.openvino_parts`, which also does TAESD's decoder); CLIP stays in PyTorch.

* **Conversion once.** ``openvino.convert_model`` traces the float32 UNet once (30 s–2 min for SD-Turbo) and the
  IR (``unet.xml``/``unet.bin``) is saved beside the model by :class:`~.conversion.ConversionCache`
  (``<models--org--name>/mmdemo-openvino/<key>/``, ``MMDEMO_OPENVINO_CACHE`` …). Later loads read the IR and
  never build the PyTorch UNet at all. Meanwhile the request that started the load sees its bar move, with the
  seconds left estimated from the UNet's parameter count and the rate of earlier conversions of it here.
* **The key** is the model's revision (the snapshot's commit hash in the HF cache, else a hash of the
  UNet's files' names, sizes and mtimes), the input shapes the IR takes, the weight precision it stores
  and the OpenVINO version.
* **One IR for every size.** Batch, height and width are dynamic, so the user's image size and count need
  no new conversion. The trace uses a latent side that is *not* a multiple of the UNet's upsampling
  factor: diffusers then passes the skip connections' sizes to its upsamplers, which the IR keeps as
  shape computations; traced at a multiple, the IR would hard-code ×2 upsampling and fail on odd latent
  sizes (``concat`` shape mismatch).
* **Static compilations from it.** Compiled for one input shape, the UNet ran a step 18–35 % faster than
  compiled dynamic (same IR, interleaved runs). So each shape a call brings is compiled static on first use
  (a few seconds; the model's native size at load time) and the last :data:`COMPILED_SHAPES` are kept:
  each holds its own copy of the weights, which the manager counts.
* **Precision** follows the manager's dtype: bfloat16 → OpenVINO's ``bf16`` inference precision with
  fp16-compressed weights on disk (half the size; fp16 holds more mantissa than bf16), float32 →
  ``f32`` with float32 weights (OpenVINO's CPU default would otherwise be bf16 where the CPU has it).
* **8-bit forms** (``Settings.cpu_unet_weights``, ``MMDEMO_CPU_UNET_WEIGHTS``): ``int8`` (NNCF's weight-only
  compression, every weight 8-bit) and ``hybrid`` (optimum-intel's recipe for diffusion UNets: the linear layers'
  weights 8-bit, the convolutions' and attention's weights and activations 8-bit on the ranges recorded while the
  pipeline runs :data:`CALIBRATION_PROMPTS` through the float UNet), each made once from the float IR into its
  own cache folder (the float key, the form, NNCF's version). NNCF missing or failing: the float form, with a note
  in the precision text and a warning in the log. What each costs and gains: benchmarks/openvino_int8.py.
* **Fallback**: OpenVINO missing, a UNet kind not supported (SDXL's added conditions, ControlNet …), or a
  failed conversion or compilation load the plain PyTorch pipeline, say why in ``LoadedModel.precision``
  and log a warning with the detail.

OpenVINO's model converter sends usage telemetry unless its consent file says no; the conversion here runs
with its telemetry stubbed out (an offline-first demo should not phone home).
"""

from __future__ import annotations

import functools
import json
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .conversion import ConversionCache, chosen_unet_weights, dtype_name, reporting_share, revision
from .openvino_ir import CACHE_ENV, TEXT_LENGTH, CompiledIR, inference_precision, telemetry_off
from .types import LoadedModel

log = logging.getLogger(__name__)

IR_NAME = "unet"
CACHE = ConversionCache("openvino", CACHE_ENV, (f"{IR_NAME}.xml", f"{IR_NAME}.bin", "meta.json"))
FORMAT = 1
"""Bump when what is saved changes (names, inputs): old caches are then ignored, not misread."""
COMPILED_SHAPES = 1
"""Static compilations kept per UNet (each holds the weights, ~1.7 GB for SD-Turbo in bf16): another
image size or count recompiles (seconds; no new conversion)."""


class UnsupportedUNet(RuntimeError):
    """The UNet needs inputs the OpenVINO path does not feed (SDXL's added conditions, class labels …)."""


# ------------------------------------------------------------------------------------ the cache


def model_revision(folder: Path) -> str:
    """The snapshot's commit hash in the Hugging Face cache; elsewhere a hash of the UNet's files."""
    return revision(folder, Path(folder, "unet").glob("*"))


def cache_key(folder: Path, precision: str) -> str:
    """Folder name of one converted UNet: revision, input shapes, stored weight precision, OpenVINO version."""
    import openvino

    weights = "w16" if precision == "bf16" else "w32"
    version = openvino.get_version().split("-")[0]
    return f"{IR_NAME}-{model_revision(folder)[:16]}-dynamic-b-h-w-t{TEXT_LENGTH}-{weights}-ov{version}-f{FORMAT}"


def cache_root(folder: Path) -> Path:
    """Where ``folder``'s converted UNets live (:class:`~.conversion.ConversionCache`)."""
    return CACHE.root(folder)


# ------------------------------------------------------------------------------- conversion


def check_supported(config: Any) -> None:
    """Raise :class:`UnsupportedUNet` for UNets that need inputs beyond latents, timestep, text (and LCM's
    ``timestep_cond``): SDXL's ``text_time`` additions, class labels, image conditions."""
    extras = {
        "addition_embed_type": config.get("addition_embed_type"),
        "class_embed_type": config.get("class_embed_type"),
        "encoder_hid_dim_type": config.get("encoder_hid_dim_type"),
    }
    used = {name: value for name, value in extras.items() if value is not None}
    if used:
        raise UnsupportedUNet(f"the OpenVINO path runs SD 1/2-style UNets only (this one has {used})")


def _trace_side(config: Any) -> int:
    """A latent side for the trace that is not a multiple of the UNet's upsampling factor (module doc)."""
    factor = 2 ** (len(config["up_block_types"]) - 1)  # every up block but the last upsamples ×2
    side = int(config.get("sample_size") or 64)
    return side + 1 if side % factor == 0 else side


def convert_unet(unet: Any, target: Path, precision: str) -> None:
    """Trace ``unet`` (float32) with dynamic batch/height/width and save the IR in ``target``."""
    import openvino

    config = unet.config
    check_supported(config)
    has_cond = config.get("time_cond_proj_dim") is not None

    class Flat(torch.nn.Module):
        """The UNet with positional tensor inputs and one tensor output: what the converter traces."""

        def __init__(self) -> None:
            super().__init__()
            self.unet = unet

        def forward(self, sample: Any, timestep: Any, encoder_hidden_states: Any, *cond: Any) -> Any:
            kwargs = {"timestep_cond": cond[0]} if cond else {}
            return self.unet(sample, timestep, encoder_hidden_states, return_dict=False, **kwargs)[0]

    side = _trace_side(config)
    channels, hidden = int(config["in_channels"]), int(config["cross_attention_dim"])
    example = [torch.randn(1, channels, side, side), torch.tensor([999.0]), torch.randn(1, TEXT_LENGTH, hidden)]
    shapes = [[-1, channels, -1, -1], [-1], [-1, TEXT_LENGTH, hidden]]
    if has_cond:
        example.append(torch.randn(1, int(config["time_cond_proj_dim"])))
        shapes.append([-1, int(config["time_cond_proj_dim"])])
    began = time.perf_counter()
    with torch.no_grad(), telemetry_off(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # diffusers' shape checks, expected in a trace
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.trace: OpenVINO's converter uses it
        model = openvino.convert_model(
            Flat().eval(), example_input=tuple(example), input=[openvino.PartialShape(s) for s in shapes]
        )
    for port, name in zip(model.inputs, ("sample", "timestep", "encoder_hidden_states", "timestep_cond"), strict=False):
        port.get_tensor().set_names({name})
    openvino.save_model(model, target / f"{IR_NAME}.xml", compress_to_fp16=precision == "bf16")
    meta = {"format": FORMAT, "precision": precision, "timestep_cond": has_cond, "config": dict(config)}
    meta["convert_seconds"] = round(time.perf_counter() - began, 1)
    (target / "meta.json").write_text(json.dumps(meta, default=str, indent=1))


def converted_unet(folder: Path, precision: str, convert: Callable[[Path], None] | None = None) -> tuple[Path, bool]:
    """The folder of ``folder``'s converted UNet for ``precision``, converting it first when it is not
    cached; returns (folder, whether it converted now). A conversion moves the progress bar of the load that
    started it, with an estimate from the UNet's parameter count (:func:`.conversion.reporting`)."""
    from .sizes import estimate_weight_bytes

    folder = Path(folder)
    make = convert or (lambda out: _convert_from_folder(folder, out, precision))
    parameters = functools.partial(estimate_weight_bytes, folder / "unet", 1)  # 1 byte a float: the count
    return CACHE.get(folder, cache_key(folder, precision), make, parameters=parameters)


def _convert_from_folder(folder: Path, target: Path, precision: str) -> None:
    from diffusers import UNet2DConditionModel

    log.info("converting the UNet of %s to OpenVINO (%s); this takes a while, once", folder, precision)
    began = time.perf_counter()
    unet = UNet2DConditionModel.from_pretrained(folder / "unet", dtype=torch.float32).eval()
    try:
        convert_unet(unet, target, precision)
    finally:
        del unet
    log.info("converted the UNet to OpenVINO in %.1f s: %s", time.perf_counter() - began, target)


# ------------------------------------------------------------------------------ 8-bit forms

QUANTIZE_COST = {"int8": 0.5, "hybrid": 3.0}
"""Making each form, in conversions of the same UNet (its progress bar's estimate, rough: one run on the SD-Turbo
replica under load measured int8 0.1× and hybrid 1.6×, its calibration included; benchmarks/README.md)."""
CALIBRATION_PROMPTS = (
    "a lighthouse on a cliff at sunset",
    "a portrait photo of an old fisherman, detailed face",
    "a bowl of fruit on a wooden table, oil painting",
    "",  # the unconditional embedding classifier-free guidance feeds
)
"""What the hybrid form's activation ranges are measured on (module doc)."""
CALIBRATION_STEPS = (1, 2)
"""Each prompt run with these step counts: the inputs of a 1- and a 2-step schedule (few-step models)."""


def weight_ops(model: Any) -> list[str]:
    """Names of the MatMuls with a constant operand (linear layers) and embedding Gathers of ``model``: the
    layers whose weights the hybrid form compresses and whose activations it leaves in float (as
    optimum-intel's ``_collect_ops_with_weights``)."""
    names = []
    for op in model.get_ops():
        kind = op.get_type_name()
        ports = (0, 1) if kind == "MatMul" else (0,) if kind == "Gather" else ()
        for port in ports:
            node = op.input_value(port).get_node()
            while node.get_type_name() in ("Convert", "FakeQuantize", "Reshape") and node.inputs():
                node = node.input_value(0).get_node()
            if node.get_type_name() == "Constant" and (kind == "MatMul" or node.get_element_type().is_real()):
                names.append(op.get_friendly_name())
                break
    return names


def quantize_unet(model: Any, form: str, calibration: Callable[[], list[dict[str, Any]]] | None = None) -> Any:
    """``model`` (the float IR, read) in the 8-bit ``form``: ``int8`` compresses every weight to 8 bits
    (NNCF's weight-only INT8_ASYM), ``hybrid`` as optimum-intel quantizes diffusion UNets: the linear
    layers' weights compressed, the convolutions' and attention's weights *and* activations quantized
    on the ranges ``calibration()`` inputs reach."""
    import nncf

    if form == "int8":
        return nncf.compress_weights(model)
    if form != "hybrid":
        raise ValueError(f"unknown UNet form {form!r}")
    assert calibration is not None
    names = weight_ops(model)
    compressed = nncf.compress_weights(model, ignored_scope=nncf.IgnoredScope(types=["Convolution"]))
    samples = calibration()
    return nncf.quantize(
        compressed,
        nncf.Dataset(samples),
        subset_size=len(samples),
        model_type=nncf.ModelType.TRANSFORMER,
        ignored_scope=nncf.IgnoredScope(names=names),
        advanced_parameters=nncf.AdvancedQuantizationParameters(
            smooth_quant_alphas=nncf.AdvancedSmoothQuantParameters(matmul=-1)
        ),
    )


def quantized_key(float_key: str, form: str) -> str:
    """Folder name of the ``form`` made from the float IR ``float_key``: that key, the form, NNCF's version."""
    import nncf

    return f"{float_key}-{form}-nncf{nncf.__version__}"


def quantized_unet(
    folder: Path, precision: str, form: str, float_ir: Path, pipe: Any, config: Any, dtype: Any
) -> tuple[Path, bool]:
    """The folder of ``folder``'s UNet in the 8-bit ``form``, made once from its float IR in ``float_ir`` (the
    calibration runs ``pipe`` with that float UNet); returns (folder, whether it was made now). Its progress
    bar is estimated as :data:`QUANTIZE_COST` conversions of the UNet."""
    from .sizes import estimate_weight_bytes

    def make(out: Path) -> None:
        import openvino

        log.info("quantizing the UNet of %s to its %s form; this takes a while, once", folder, form)
        began = time.perf_counter()
        model = openvino.Core().read_model(float_ir / f"{IR_NAME}.xml")
        calibration = functools.partial(calibration_inputs, pipe, compile_unet(float_ir, config, dtype, prepare=False))
        quantized = quantize_unet(model, form, calibration)
        openvino.save_model(quantized, out / f"{IR_NAME}.xml", compress_to_fp16=precision == "bf16")
        meta = json.loads((float_ir / "meta.json").read_text())
        meta.update(form=form, quantize_seconds=round(time.perf_counter() - began, 1))
        (out / "meta.json").write_text(json.dumps(meta, default=str, indent=1))
        log.info("quantized the UNet in %.1f s: %s", time.perf_counter() - began, out)

    key = quantized_key(cache_key(folder, precision), form)
    cost = QUANTIZE_COST[form]
    return CACHE.get(folder, key, make, parameters=lambda: int(cost * estimate_weight_bytes(folder / "unet", 1)))


def calibration_inputs(pipe: Any, unet: OpenVINOUNet) -> list[dict[str, Any]]:
    """The float ``unet``'s inputs while ``pipe`` makes latents for :data:`CALIBRATION_PROMPTS` with
    :data:`CALIBRATION_STEPS` at the model's native size, without guidance (no image is decoded)."""
    recorded: list[dict[str, Any]] = []
    infer = unet._infer

    def record(arrays: list[Any]) -> Any:
        recorded.append({name: a.copy() for name, a in zip(unet._names, arrays, strict=True)})
        return infer(arrays)

    side = int(unet.config.get("sample_size") or 64) * int(pipe.vae_scale_factor)
    saved = pipe.unet
    pipe.unet, unet._infer = unet, record  # type: ignore[method-assign]
    try:
        for index, prompt in enumerate(CALIBRATION_PROMPTS):
            for steps in CALIBRATION_STEPS:
                generator = torch.Generator().manual_seed(index)
                pipe(prompt, num_inference_steps=steps, guidance_scale=0.0, height=side, width=side,
                     output_type="latent", generator=generator)  # fmt: skip
    finally:
        pipe.unet, unet._infer = saved, infer  # type: ignore[method-assign]
    return recorded


# ------------------------------------------------------------------------------- the wrapper


class OpenVINOUNet(CompiledIR):
    """The converted UNet, which diffusers calls in place of ``pipe.unet``.

    It keeps what the pipelines read (``config``, ``dtype``, ``device``) and returns a
    ``UNet2DConditionOutput`` (a tuple with ``return_dict=False``). The IR takes any batch and size; the last
    :data:`COMPILED_SHAPES` static compilations are kept (:class:`CompiledIR`).
    """

    def __init__(self, model: Any, config: Any, dtype: Any, weight_bytes: int) -> None:
        super().__init__(model, dtype, weight_bytes, COMPILED_SHAPES, "UNet")
        self.config = config

    def prepare(self, batch: int, height: int, width: int) -> None:
        """Compile the shape of a call with ``batch`` latents of ``height`` × ``width`` now."""
        shapes = [(batch, int(self.config["in_channels"]), height, width), (batch,)]
        shapes.append((batch, TEXT_LENGTH, int(self.config["cross_attention_dim"])))
        if len(self._names) > 3:
            shapes.append((batch, int(self.config["time_cond_proj_dim"])))
        self.compile_for(tuple(shapes))

    def forward(
        self,
        sample: Any,
        timestep: Any,
        encoder_hidden_states: Any,
        timestep_cond: Any = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
        added_cond_kwargs: dict[str, Any] | None = None,
        return_dict: bool = True,
        **unsupported: Any,
    ) -> Any:
        from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

        given = {
            "cross_attention_kwargs": cross_attention_kwargs,
            "added_cond_kwargs": added_cond_kwargs,
            **unsupported,
        }
        if extra := sorted(name for name, value in given.items() if value):
            raise NotImplementedError(f"the OpenVINO UNet takes no {', '.join(extra)} (LoRA scales, ControlNet …)")
        batch = sample.shape[0]
        steps = torch.as_tensor(timestep, dtype=torch.float32).reshape(-1).expand(batch)
        inputs = [sample, steps, encoder_hidden_states]
        if len(self._names) > 3:
            if timestep_cond is None:
                raise ValueError("this UNet needs timestep_cond (guidance embedding)")
            inputs.append(timestep_cond)
        arrays = [t.detach().to("cpu", torch.float32).contiguous().numpy() for t in inputs]
        out = self._infer(arrays).to(sample.dtype)
        return UNet2DConditionOutput(sample=out) if return_dict else (out,)


def compile_unet(target: Path, config: Any, dtype: Any, prepare: bool = True) -> OpenVINOUNet:
    """Read the IR in ``target`` and compile it for the model's native size (unless not ``prepare``: on first
    use) at the precision of ``dtype``."""
    import openvino

    model = openvino.Core().read_model(target / f"{IR_NAME}.xml")
    weight_bytes = (target / f"{IR_NAME}.bin").stat().st_size  # fp16 on disk for bf16, float32 for f32: as in RAM
    unet = OpenVINOUNet(model, config, dtype, weight_bytes)
    side = int(config.get("sample_size") or 64)
    if prepare:
        unet.prepare(1, side, side)
    return unet


# ------------------------------------------------------------------------------- the loader


def load_with_openvino_unet(folder: Path, dtype: Any, fallback: Callable[[Path, Any], LoadedModel]) -> LoadedModel:
    """The diffusers pipeline in ``folder`` with its UNet run by OpenVINO (converted once, cached); on any
    failure the plain ``fallback`` loader's pipeline, with why in ``precision`` (see the module doc)."""
    folder = Path(folder)
    try:
        import openvino  # noqa: F401
    except ImportError as err:
        return _fall_back(folder, dtype, fallback, "OpenVINO is not installed", err)
    try:
        config = _unet_config(folder)
        check_supported(config)
        precision = inference_precision(dtype)
        form, note = chosen_unet_weights(), ""
        with reporting_share(0.0, 0.8 if form == "float" else 0.4):
            target, converted = converted_unet(folder, precision)
        from diffusers import AutoPipelineForText2Image

        pipe = AutoPipelineForText2Image.from_pretrained(folder, unet=None, dtype=dtype)  # every part but the UNet
        pipe.set_progress_bar_config(disable=True)  # the task reports per-step progress itself
        if form != "float":
            try:
                with reporting_share(0.4, 0.8):
                    target, converted = quantized_unet(folder, precision, form, target, pipe, config, dtype)
            except Exception as err:  # NNCF missing or failing: the float form, said where the precision is
                why = "NNCF is not installed" if isinstance(err, ImportError) else f"{form} quantization failed"
                log.warning("%s for %s: %s: %s; the float UNet", why, folder, type(err).__name__, err, exc_info=err)
                form, note = "float", f"; {why}: float"
        began = time.perf_counter()
        pipe.unet = compile_unet(target, config, dtype)
        how = "converted now" if converted else "cached"
        log.info("OpenVINO UNet (%s: %s) compiled in %.1f s", how, target, time.perf_counter() - began)
        from .openvino_parts import pipeline_parts_in_openvino

        with reporting_share(0.8, 1.0):
            swapped, kept = pipeline_parts_in_openvino(pipe, folder, dtype, int(config.get("sample_size") or 64))
    except UnsupportedUNet as err:
        return _fall_back(folder, dtype, fallback, "OpenVINO runs SD 1/2 UNets only", err)
    except Exception as err:
        return _fall_back(folder, dtype, fallback, "OpenVINO conversion failed", err)
    weights = {"int8": ", 8-bit weights", "hybrid": ", hybrid 8-bit"}.get(form, "")
    parts = "".join(
        f"; {' and '.join(names)} in {where}" for names, where in ((swapped, "OpenVINO"), (kept, "PyTorch")) if names
    )
    return LoadedModel(model=pipe, precision=f"{dtype_name(dtype)} (OpenVINO UNet{weights}{note}{parts})")


def _unet_config(folder: Path) -> Any:
    from diffusers import UNet2DConditionModel
    from diffusers.configuration_utils import FrozenDict

    if not (folder / "unet" / "config.json").is_file():
        raise UnsupportedUNet(f"the pipeline in {folder.name} has no UNet (a transformer-based model)")
    config = UNet2DConditionModel.load_config(folder / "unet")
    defaults = UNet2DConditionModel.extract_init_dict(config)[0]  # every argument, the defaults filled in
    return FrozenDict({**defaults, **{k: v for k, v in config.items() if not k.startswith("_")}})


def _fall_back(
    folder: Path, dtype: Any, fallback: Callable[[Path, Any], LoadedModel], why: str, err: BaseException
) -> LoadedModel:
    log.warning("%s for %s: %s: %s; using PyTorch", why, folder, type(err).__name__, err, exc_info=err)
    loaded = fallback(folder, dtype)
    loaded.precision = f"{dtype_name(dtype)} (PyTorch: {why})"
    return loaded
