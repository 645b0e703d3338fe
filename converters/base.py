"""The converter interface, the registry, and the pipeline every target shares.

A target module only turns an `ExportJob` into bytes on disk. Everything else is done once, here:
building the clip or streaming form, the state-aware calibration feed from real frames, the temp-file
write and rename, verification through the same runtime adapter the runner uses, and the sidecar.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from stsm_edge.errors import (  # noqa: F401  (re-exported: converters raise these)
    ArtifactError,
    CalibrationError,
    ExportError,
    StsmEdgeError,
    TargetUnavailable,
)
from stsm_edge.fileio import atomic_output, ensure_writable_dir
from stsm_edge.models.tsn import TemporalSegmentNetwork
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.runtimes.base import open_runtime
from stsm_edge.sidecar import validate_sidecar, write_sidecar
from stsm_edge.streaming import StateSpec, to_streaming

FORMS = ("clip", "stream")
TARGETS = ("executorch", "coreml", "tflite", "onnx")
FP32_MAX_ABS_DIFF = 1e-4
INT8_MIN_TOP1_AGREEMENT = 0.95
TOOL_DISTRIBUTIONS = ("torch", "executorch", "torchao", "coremltools", "litert-torch", "ai-edge-litert",
                      "ai-edge-quantizer", "onnx", "onnxruntime", "numpy")


@dataclass
class ExportJob:
    name: str
    form: str
    precision: str
    module: nn.Module
    example_inputs: tuple[Tensor, ...]
    input_names: list[str]
    output_names: list[str]
    calibration: list[tuple[Tensor, ...]]
    options: dict = field(default_factory=dict)
    # Set by converters that quantize in PyTorch: the fake-quantized eager model, a second reference.
    quantized_reference: nn.Module | None = None


class Converter(ABC):
    name: ClassVar[str]
    suffix: ClassVar[str]
    precisions: ClassVar[tuple[str, ...]]
    requires: ClassVar[tuple[str, ...]] = ()
    runs_here: ClassVar[bool] = True

    def check_available(self) -> None:
        for module in self.requires:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise TargetUnavailable(f"target {self.name!r} needs the Python module {module!r}: {exc}") from exc

    @abstractmethod
    def convert(self, job: ExportJob, path: Path) -> dict:
        """Write the artifact to `path`; return format-specific sidecar fields."""

    def verify_structure(self, path: Path, job: ExportJob) -> dict:
        """Checks for artifacts that cannot run on this OS; raises ArtifactError on a mismatch."""
        raise TargetUnavailable(f"{self.name} artifacts cannot be run or checked on this machine")


REGISTRY: dict[str, type[Converter]] = {}


def register(cls: type[Converter]) -> type[Converter]:
    REGISTRY[cls.name] = cls
    return cls


def get_converter(target: str) -> Converter:
    if target not in TARGETS:
        raise ExportError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    try:
        importlib.import_module(f"converters.{target}")
    except ImportError as exc:
        raise TargetUnavailable(f"target {target!r} is unavailable: {exc}") from exc
    return REGISTRY[target]()


# ---- the two forms -------------------------------------------------------------------------------

class ClipForm(nn.Module):
    """The clip model with a tuple output, like the streaming form, so every converter sees one shape."""

    def __init__(self, model: TemporalSegmentNetwork) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: Tensor) -> tuple[Tensor]:
        return (self.model(frames),)


@dataclass
class FormSpec:
    module: nn.Module
    input_names: list[str]
    output_names: list[str]
    inputs: list[dict]
    outputs: list[dict]
    states: list[StateSpec]


def _tensor(name: str, shape: Sequence[int]) -> dict:
    return {"name": name, "shape": list(shape), "dtype": "float32", "quantization": None}


def build_form(model: TemporalSegmentNetwork, form: str, height: int, width: int) -> FormSpec:
    if form not in FORMS:
        raise ExportError(f"unknown form {form!r}; choose clip or stream")
    k = model.config.num_classes
    if form == "clip":
        shape = [1, model.n_segments, 3, height, width]
        return FormSpec(ClipForm(model).eval(), ["frames"], ["logits"], [_tensor("frames", shape)],
                        [_tensor("logits", [1, k])], [])
    streaming = to_streaming(model)
    from stsm_edge.streaming import state_spec

    states = state_spec(streaming, height, width)
    inputs = [_tensor("frame", [1, 3, height, width])] + [_tensor(s.name, s.shape) for s in states]
    outputs = [_tensor("logits", [1, k])] + [_tensor("new_" + s.name, s.shape) for s in states]
    return FormSpec(streaming, [t["name"] for t in inputs], [t["name"] for t in outputs], inputs, outputs, states)


def zero_inputs(form: FormSpec) -> tuple[Tensor, ...]:
    return tuple(torch.zeros(spec["shape"]) for spec in form.inputs)


# ---- feeding real frames through a form ----------------------------------------------------------

def form_inputs(form: FormSpec, frames: Sequence[np.ndarray], n_segments: int, clip_stride: int = 1) -> list[tuple[Tensor, ...]]:
    """Input tuples for a form from preprocessed (3, H, W) frames, in order.

    Clip form: windows of T consecutive frames every `clip_stride` frames. Stream form: one tuple per
    frame, whose states are those the float streaming model produced on the frames before it — so
    int8 calibration sees the states it will meet at run time, not zeros (MoViNet's lesson).
    """
    tensors = [torch.from_numpy(np.ascontiguousarray(f)).unsqueeze(0) for f in frames]
    if form.states == [] and form.input_names[0] == "frames":
        if len(tensors) < n_segments:
            raise CalibrationError(f"need at least {n_segments} frames for a clip, got {len(tensors)}")
        starts = range(0, len(tensors) - n_segments + 1, clip_stride)
        return [(torch.cat(tensors[s : s + n_segments]).unsqueeze(0),) for s in starts]
    states = tuple(torch.zeros(spec.shape) for spec in form.states)
    feed = []
    with torch.no_grad():
        for frame in tensors:
            feed.append((frame, *states))
            states = tuple(form.module(frame, *states)[1:])
    return feed


# ---- verification ---------------------------------------------------------------------------------

def _compare(reference: list[np.ndarray], candidate: list[np.ndarray]) -> dict:
    ref, got = np.stack(reference), np.stack(candidate)
    return {
        "max_abs_diff": float(np.abs(ref - got).max()),
        "top1_agreement": float((ref.argmax(-1) == got.argmax(-1)).mean()),
        "samples": int(len(ref)),
    }


def eager_logits(module: nn.Module, feed: list[tuple[Tensor, ...]], carry_states: bool) -> list[np.ndarray]:
    """Logits of an eager form over a feed; streaming carries its own states from the first tuple on."""
    outputs = []
    with torch.no_grad():
        states = feed[0][1:] if carry_states else ()
        for inputs in feed:
            result = module(inputs[0], *states) if carry_states else module(*inputs)
            if carry_states:
                states = tuple(result[1:])
            outputs.append(result[0][0].numpy())
    return outputs


def artifact_logits(runtime, feed: list[tuple[Tensor, ...]], carry_states: bool) -> list[np.ndarray]:
    """Logits of an artifact over a feed, states carried from output to input as a runner would."""
    outputs = []
    states = [t.numpy() for t in feed[0][1:]] if carry_states else []
    for inputs in feed:
        arrays = [inputs[0].numpy(), *states] if carry_states else [t.numpy() for t in inputs]
        result = runtime.run(arrays)
        if carry_states:
            states = result[1:]
        outputs.append(result[0][0])
    return outputs


def verify_artifact(path: Path, sidecar: dict, job: ExportJob, feed: list[tuple[Tensor, ...]]) -> dict:
    """Parity of the artifact in its real runtime against eager fp32 (and the fake-quant model)."""
    carry = job.form == "stream"
    runtime = open_runtime(path, sidecar)
    got = artifact_logits(runtime, feed, carry)
    report = {"runtime": runtime.format, "vs_fp32": _compare(eager_logits(job.module, feed, carry), got)}
    if job.quantized_reference is not None:
        report["vs_fake_quant"] = _compare(eager_logits(job.quantized_reference, feed, carry), got)
    vs = report["vs_fp32"]
    if job.precision == "fp32":
        report["passed"] = vs["max_abs_diff"] <= FP32_MAX_ABS_DIFF
        report["criterion"] = f"fp32 max abs diff <= {FP32_MAX_ABS_DIFF}"
    else:
        report["passed"] = vs["top1_agreement"] >= INT8_MIN_TOP1_AGREEMENT
        report["criterion"] = f"top-1 agreement with fp32 >= {INT8_MIN_TOP1_AGREEMENT:.0%}"
    return report


# ---- the pipeline ---------------------------------------------------------------------------------

@dataclass
class ExportResult:
    target: str
    form: str
    precision: str
    path: Path
    size_bytes: int
    parity: dict
    seconds: float
    sidecar: dict


def tool_versions() -> dict:
    versions = {}
    for dist in TOOL_DISTRIBUTIONS:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def artifact_size(path: Path) -> int:
    path = Path(path)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def export_artifact(
    model: TemporalSegmentNetwork,
    target: str,
    form: str,
    precision: str,
    out_dir: Path,
    calibration_frames: Sequence[np.ndarray],
    verification_frames: Sequence[np.ndarray],
    labels: Sequence[str],
    preprocess: PreprocessSpec,
    source: dict | None = None,
    options: dict | None = None,
    name: str | None = None,
    progress: Callable[[str], None] = lambda step: None,
) -> ExportResult:
    """Convert one form of `model` for one target and precision, verify it, write artifact + sidecar."""
    start = time.perf_counter()
    converter = get_converter(target)
    converter.check_available()
    if precision not in converter.precisions:
        raise ExportError(f"target {target!r} has no {precision} export; it offers {', '.join(converter.precisions)}")
    out_dir = ensure_writable_dir(out_dir)
    height, width = preprocess.size
    model = model.eval()
    spec = build_form(model, form, height, width)
    name = name or f"{model.config.backbone}_{form}_{precision}"
    calibration = []
    if precision.startswith("int8") and precision != "int8w":
        if len(calibration_frames) == 0:
            raise CalibrationError("int8 export needs calibration frames, and the calibration source gave none")
        calibration = form_inputs(spec, calibration_frames, model.n_segments, clip_stride=model.n_segments // 2 or 1)
    job = ExportJob(name, form, precision, spec.module, zero_inputs(spec) if not calibration else calibration[0],
                    spec.input_names, spec.output_names, calibration, dict(options or {}))
    path = out_dir / f"{name}{converter.suffix}"
    with atomic_output(path) as tmp:
        progress(f"{target} {form} {precision}: converting")
        fields = converter.convert(job, tmp)
        sidecar = {
            "artifact": path.name, "target": target, "form": form, "precision": precision,
            "model": model.config.to_dict(), "labels": list(labels), "preprocess": preprocess.to_dict(),
            "inputs": spec.inputs, "outputs": spec.outputs, "states": [s.to_dict() for s in spec.states],
            "source": dict(source or {}), "tools": tool_versions(),
        }
        _apply_io_quantization(sidecar, fields.pop("io_quantization", {}))
        sidecar.update(fields)
        validate_sidecar({"schema": "stsm-edge/artifact", "version": 1, **sidecar}, str(path))
        progress(f"{target} {form} {precision}: verifying")
        if converter.runs_here:
            feed = form_inputs(spec, verification_frames, model.n_segments)
            sidecar["parity"] = verify_artifact(tmp, sidecar, job, feed)
        else:
            sidecar["parity"] = {"structural": converter.verify_structure(tmp, job), "passed": True,
                                 "criterion": "structure only: this OS cannot run the artifact"}
        size = artifact_size(tmp)
    write_sidecar(path, sidecar)
    return ExportResult(target, form, precision, path, size, sidecar["parity"], time.perf_counter() - start, sidecar)


def _apply_io_quantization(sidecar: dict, io_quantization: dict) -> None:
    for spec in sidecar["inputs"] + sidecar["outputs"]:
        q = io_quantization.get(spec["name"])
        if q is not None:
            spec["quantization"] = {"scale": float(q["scale"]), "zero_point": int(q["zero_point"]),
                                    "dtype": q.get("dtype", "int8")}
            spec["dtype"] = spec["quantization"]["dtype"]
