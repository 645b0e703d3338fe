"""The converter interface, the registry, and the pipeline every target shares.

A target module only turns an `ExportJob` into bytes on disk. Everything else is done once, here:
building the clip or streaming form, the state-aware calibration feed from real frames, the temp-file
write and rename, verification through the same runtime adapter the runner uses, and the sidecar.
"""

from __future__ import annotations

import hashlib
import importlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, ClassVar, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from stsm_edge.converters.deploy import deploy_form
from stsm_edge.errors import (  # noqa: F401  (re-exported: converters raise these)
    ArtifactError,
    CalibrationError,
    ExportError,
    StsmEdgeError,
    TargetUnavailable,
)
from stsm_edge.fileio import atomic_output, ensure_writable_dir
from stsm_edge.forms import (  # noqa: F401  (ClipForm, FormSpec re-exported for converters)
    FORMS,
    ClipForm,
    FormSpec,
    build_form,
    form_inputs,
    form_sidecar,
    zero_inputs,
)
from stsm_edge.models.tsn import TemporalSegmentNetwork
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.runtimes.base import open_runtime
from stsm_edge.sidecar import validate_sidecar, write_sidecar
from stsm_edge.timebase import TimeStep
from stsm_edge.versions import package_versions

TARGETS = ("executorch", "coreml", "tflite", "onnx")
PRECISIONS = ("fp32", "fp16", "int8", "int8w")  # the union of the targets' `precisions`
# "training": the shift as stsm_edge.shift writes it (slices, zero pads, cat); "deploy": stsm_edge.converters.deploy's
# one fixed depthwise conv plus one cat, exactly equal and, where measured so, cheaper.
SHIFT_FORMS = ("training", "deploy")
FP32_MAX_ABS_DIFF = 1e-4
INT8_MIN_TOP1_AGREEMENT = 0.95


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
    # Which exactly-equal form of the shift this target converts by default; options["shift_form"]
    # overrides it. Chosen by benchmarks/shift_overhead.py (int8 stream, 224², 1 thread, 200 interleaved
    # rounds, 2026-11-27): deploy/training median ms ExecuTorch x0.93, ONNX x0.89, TFLite x0.99. CoreML
    # cannot be timed on Linux, so it keeps the training form until someone measures it on a Mac.
    shift_form: ClassVar[str] = "deploy"

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


def tool_versions() -> dict[str, str]:
    """The tools an artifact was made with: package versions plus a digest of these converters' source,
    so a cache of artifacts (benchmarks/) is invalidated when the conversion code changes, not only a version."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return {**package_versions(), "stsm-edge converters": digest.hexdigest()[:16]}


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
    if carry_states:
        return runtime.stream([inputs[0].numpy() for inputs in feed], [t.numpy() for t in feed[0][1:]])[0]
    return [runtime.run([t.numpy() for t in inputs])[0][0] for inputs in feed]


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


def conversion_form(converter: Converter, job: ExportJob) -> tuple[str, nn.Module]:
    """The shift form the converter gets (its measured default or the job's option) and that module."""
    chosen = str(job.options.get("shift_form", converter.shift_form)).lower()
    if chosen not in SHIFT_FORMS:
        raise ExportError(f"unknown shift_form {chosen!r}; choose one of {', '.join(SHIFT_FORMS)}")
    return chosen, deploy_form(job.module, job.example_inputs) if chosen == "deploy" else job.module


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
    time_step: TimeStep | None = None,
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
    chosen_form, converted = conversion_form(converter, job)
    # The converter sees the chosen form; verification compares against the training form (job.module).
    conversion = replace(job, module=converted)
    with atomic_output(path) as tmp:
        progress(f"{target} {form} {precision}: converting")
        fields = converter.convert(conversion, tmp)
        job.quantized_reference = conversion.quantized_reference
        fields["shift_form"] = chosen_form
        sidecar = form_sidecar(model, spec, form, labels, preprocess, artifact=path.name, target=target,
                               precision=precision, source=dict(source or {}), tools=tool_versions(),
                               time_step=time_step.to_dict() if time_step else None)
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
