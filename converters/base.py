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
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, ClassVar, Mapping, Sequence

import numpy as np
import torch
from stsm_edge.converters.deploy import deploy_variant
from stsm_edge.converters.quantization import FLOAT_LEADING_CONVS
from stsm_edge.converters.targets import TARGETS
from torch import Tensor, nn

from stsm_edge.errors import (
    CalibrationError,
    ExportError,
    InputError,
    OptionError,
    TargetUnavailable,
)
from stsm_edge.fileio import atomic_output, ensure_writable_dir
from stsm_edge.forms import (
    as_clips,
    build_form,
    clip_feeds,
    form_sidecar,
    zero_inputs,
)
from stsm_edge.models.tsn import TemporalSegmentNetwork
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.runtimes.base import open_runtime
from stsm_edge.sidecar import stamped, validate_sidecar, write_sidecar
from stsm_edge.streaming import StateSpec, reset_states
from stsm_edge.timebase import TimeStep
from stsm_edge.versions import package_versions

# "training": the shift as stsm_edge.shift writes it (slices, zero pads, cat); "deploy": stsm_edge.converters.deploy's
# one fixed depthwise conv plus one cat, exactly equal and, where measured so, cheaper.
SHIFT_VARIANTS = ("training", "deploy")
# fp32 passes when no logit differs by more than this share of the reference's largest |logit| (1.0 at least):
# float error grows with the logits' scale, so an absolute bar failed correct artifacts of large-logit models
# (TSM's online MobileNetV2: logits to 19.8, max |d| 1.13e-3, top-1 100%), while a wrong weight, state or
# layer moves logits by a far larger share.
FP32_MAX_REL_DIFF = 1e-4
# int8 passes when the top-1 of what a runner shows (clip logits; a stream's mean of T frames' logits)
# agrees with fp32's on at least this share of the verification windows. Set from the run-to-run spread
# of correct artifacts: the default model's int8 ONNX stream calibrated on three different sets of motion
# train clips, its TFLite stream and ONNX clip on one, each verified on six different runs of val clips.
# The most windows any of them missed, doubled, is what the bar allows; the same ONNX streams with their
# states zeroed or their weight scales doubled fell far below it (tests/test_export_pipeline.py). Single
# frames' agreement of the same correct artifacts spread wider, so it is reported, not judged.
INT8_MIN_TOP1_AGREEMENT = 0.90


# ---- options --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConverterOptions:
    """Options every target takes; each target's options subclass this with its own fields.

    Built from the user's dict by `from_dict`, which is the one place that refuses an unknown key or a
    value outside a field's `CHOICES`, before any slow step, so a misspelt option is never ignored.
    """

    # Which exactly-equal variant of the shift (training or deploy) the target converts; "form" is clip/stream, the
    # key keeps its old name because sidecars and --converter-option record it. Chosen by benchmarks/shift_overhead.py
    # (int8 stream, 224², 1 thread, interleaved rounds): deploy was faster for ExecuTorch and ONNX and
    # no slower for TFLite; CoreML cannot be timed on Linux, so its options keep the training variant.
    shift_form: str = "deploy"

    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"shift_form": SHIFT_VARIANTS}

    @classmethod
    def from_dict(cls, target: str, options: Mapping | None = None) -> "ConverterOptions":
        given = dict(options or {})
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(given) - set(valid))
        if unknown:
            raise OptionError(f"unknown {target} option {unknown[0]!r}; valid options: {', '.join(valid)}")
        for f in fields(cls):
            if f.name not in given:
                continue
            if f.name in cls.CHOICES:
                given[f.name] = str(given[f.name]).lower()
                if given[f.name] not in cls.CHOICES[f.name]:
                    raise OptionError(f"unknown {target} {f.name} {given[f.name]!r}; choose one of "
                                      f"{', '.join(cls.CHOICES[f.name])}")
            # bool is an int to isinstance; an option of either type takes only its own
            elif type(given[f.name]) is not type(f.default):
                raise OptionError(f"{target} option {f.name} takes a {type(f.default).__name__}, "
                                  f"got {given[f.name]!r}")
        return cls(**given)

    @property
    def state(self) -> str:
        """Where the stream form keeps its states; a target that can keep them inside overrides this with an option."""
        return "explicit"


@dataclass(frozen=True)
class Int8Options(ConverterOptions):
    """Options of the targets whose int8 recipe keeps the first convolutions float."""

    float_leading_convs: int = FLOAT_LEADING_CONVS

    def __post_init__(self) -> None:
        if self.float_leading_convs < 0:
            raise OptionError(f"float_leading_convs must be >= 0, got {self.float_leading_convs}")


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
    options: ConverterOptions = ConverterOptions()
    states: list[StateSpec] = field(default_factory=list)  # what a stream form keeps, explicit or inside
    # Where each calibration clip starts in `calibration`: a stream's states start from zero there (`calibrate`).
    clip_starts: tuple[int, ...] = (0,)


def calibrate(module: nn.Module, job: ExportJob) -> None:
    """Run the job's calibration inputs through `module` (an observed copy) in order. Explicit states are in the
    inputs; a module that keeps its states inside is reset at each clip's start, as its feed's were."""
    starts = set(job.clip_starts)
    with torch.no_grad():
        for index, inputs in enumerate(job.calibration):
            if index in starts:
                reset_states(module)
            module(*inputs)


@dataclass(frozen=True)
class Conversion:
    """What a converter made, besides the artifact file it wrote."""

    fields: dict  # format-specific sidecar fields
    # The fake-quantized eager model, for converters that quantize in PyTorch: a second reference.
    quantized_reference: nn.Module | None = None
    # Scale, zero-point and dtype of each quantized input/output, by tensor name.
    io_quantization: dict = field(default_factory=dict)
    # The layout each explicit state crosses the boundary in, by state name (nchw, unrecorded, where a converter names
    # none).
    state_layouts: dict = field(default_factory=dict)


class Converter(ABC):
    name: ClassVar[str]
    suffix: ClassVar[str]
    precisions: ClassVar[tuple[str, ...]]
    options_type: ClassVar[type[ConverterOptions]] = ConverterOptions
    requires: ClassVar[tuple[str, ...]] = ()

    def check_available(self) -> None:
        for module in self.requires:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise TargetUnavailable(f"target {self.name!r} needs the Python module {module!r}: {exc}") from exc

    def options(self, options: Mapping | None = None) -> ConverterOptions:
        return self.options_type.from_dict(self.name, options)

    @classmethod
    def can_keep_state_inside(cls) -> bool:
        """Whether this target can keep a stream's states inside the program (its options take `state`)."""
        return "state" in {f.name for f in fields(cls.options_type)}

    def runs_here(self, options: ConverterOptions) -> bool:
        """Whether this process can run what `convert` makes with these options (else: structure only)."""
        return True

    @abstractmethod
    def convert(self, job: ExportJob, path: Path) -> Conversion:
        """Write the artifact to `path`; return what else was made."""

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
        importlib.import_module(f"{__package__}.{target}")  # stsm_edge.converters.<target>, imported on demand
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

def compare_logits(reference: list[np.ndarray], candidate: list[np.ndarray]) -> dict:
    """Largest absolute difference and top-1 agreement of two runs' logits, step by step (what verification
    reports; benchmarks report with it too)."""
    ref, got = np.stack(reference), np.stack(candidate)
    return {
        "max_abs_diff": float(np.abs(ref - got).max()),
        "reference_scale": max(1.0, float(np.abs(ref).max())),  # what the fp32 bar is relative to
        "top1_agreement": float((ref.argmax(-1) == got.argmax(-1)).mean()),
        "samples": int(len(ref)),
    }


def eager_logits(module: nn.Module, feed: list[tuple[Tensor, ...]], carry_states: bool) -> list[np.ndarray]:
    """Logits of an eager form over a feed; streaming carries its own states from the first tuple on (or, for a
    module that keeps them inside, from zeroed buffers)."""
    outputs = []
    if carry_states:
        reset_states(module)
    with torch.no_grad():
        states = feed[0][1:] if carry_states else ()
        for inputs in feed:
            result = module(inputs[0], *states) if carry_states else module(*inputs)
            if carry_states:
                states = tuple(result[1:])
            outputs.append(result[0][0].numpy())
    return outputs


def artifact_logits(runtime, feed: list[tuple[Tensor, ...]], carry_states: bool) -> list[np.ndarray]:
    """Logits of an artifact over a feed, states carried from output to input as a runner would, from the
    artifact's own initial states (a feed starts from zero states, which those are in the artifact's layout and
    dtype)."""
    if carry_states:
        runtime.reset()
        return runtime.stream([inputs[0].numpy() for inputs in feed], runtime.initial_states())[0]
    return [runtime.run([t.numpy() for t in inputs])[0][0] for inputs in feed]


def moving_average(logits: list[np.ndarray], window: int) -> list[np.ndarray]:
    """The mean of every `window` consecutive logits: over a stream's per-frame logits with window T, the
    temporal average a clip model takes over the same T frames, so what a user of either form is shown."""
    stacked = np.stack(logits)
    return [stacked[end - window : end].mean(0) for end in range(window, len(stacked) + 1)]


def independent_windows(per_clip: list[list[np.ndarray]], window: int) -> list[np.ndarray]:
    """The mean of each non-overlapping run of `window` logits within each clip (a remainder shorter than a window
    is left out): windows that share no frame, so each is its own sample of what a runner shows."""
    means = []
    for logits in per_clip:
        means += [np.mean(logits[start : start + window], axis=0)
                  for start in range(0, len(logits) - window + 1, window)]
    return means


def meets_bar(precision: str, scores: dict) -> bool:
    """Whether logits compared with fp32's (`compare_logits` of windows as `vs_fp32`, and of frames as `per_frame`
    for a stream) clear the bar of `precision`: exact up to float error (relative to the logits' scale) for fp32,
    else top-1 agreement on the windows."""
    if precision == "fp32":
        exact = scores.get("per_frame", scores["vs_fp32"])
        return exact["max_abs_diff"] <= FP32_MAX_REL_DIFF * exact["reference_scale"]
    return scores["vs_fp32"]["top1_agreement"] >= INT8_MIN_TOP1_AGREEMENT


def bar_text(precision: str, stream: bool, window: int) -> str:
    if precision == "fp32":
        return f"fp32 max abs diff <= {FP32_MAX_REL_DIFF:g} x max(1, max |logit|)" + (" per frame" if stream else "")
    shown_as = f"mean of {window} frames' logits" if stream else "clip logits"
    return f"top-1 agreement with fp32 >= {INT8_MIN_TOP1_AGREEMENT:.0%} ({shown_as})"


def _scores(expected: list[list[np.ndarray]], got: list[list[np.ndarray]], window: int, stream: bool) -> dict:
    scores = {"vs_fp32": compare_logits(independent_windows(expected, window), independent_windows(got, window))}
    if stream:
        scores["per_frame"] = compare_logits([x for clip in expected for x in clip], [x for clip in got for x in clip])
    return scores


# What each control feeds the artifact for one step, as frames after a reset: the frame once (its states at their
# initial value), or the frame twice, the second pass reading the states the first left (each state is then the
# current frame's own channels, exactly at the first shift site and from a zero-state pass at later ones).
CONTROLS = {"reset_every_step": 1, "own_frame_states": 2}


def control_logits(runtime, feed: list[tuple[Tensor, ...]], passes: int) -> list[np.ndarray]:
    """A stream artifact's logits when every step starts a new stream (`runtime.reset`, initial states) and runs the
    step's frame `passes` times: the model sees no frame but the current one. The same calls reach explicit states
    and a program that keeps them inside."""
    logits = []
    for inputs in feed:
        runtime.reset()
        frame = inputs[0].numpy()
        logits.append(runtime.stream([frame] * passes, runtime.initial_states())[0][-1])
    return logits


def verify_artifact(path: Path, sidecar: dict, reference: nn.Module, clips: list[list[tuple[Tensor, ...]]],
                    quantized_reference: nn.Module | None = None, verified_on: str = "given frames",
                    weak_verify: bool = False) -> dict:
    """Parity of the artifact in its real runtime against the eager fp32 `reference` of the same form, on `clips`
    (one feed per clip; a stream starts each from its initial states, as a runner starts a new stream).

    The criterion is on what a runner shows: clip logits, or for a stream the mean of T per-frame logits, over
    windows that share no frame. A single frame's logits are noisier than anything shown, so for a stream they are
    reported (`per_frame`) but only the fp32 bar, exactness, applies to them.

    A stream also scores two controls through the same runtime on the same frames: its states reset every step,
    and its states taken from the current frame. Neither remembers a frame, so if either clears the bar, these
    frames cannot tell an artifact that keeps its temporal state from one that lost it: the verdict is
    "inconclusive", which fails unless `weak_verify` accepts it (and the report says so).
    """
    stream = sidecar["form"] == "stream"
    precision = sidecar["precision"]
    window = sidecar["model"]["n_segments"] if stream else 1
    runtime = open_runtime(path, sidecar)
    got = [artifact_logits(runtime, feed, stream) for feed in clips]
    expected = [eager_logits(reference, feed, stream) for feed in clips]
    report = {"runtime": runtime.format, **_scores(expected, got, window, stream)}
    if quantized_reference is not None:
        fake_quant = [eager_logits(quantized_reference, feed, stream) for feed in clips]
        report["vs_fake_quant"] = compare_logits(independent_windows(fake_quant, window),
                                                 independent_windows(got, window))
    report["criterion"] = bar_text(precision, stream, window)
    report["verified_on"] = {"source": verified_on, "clips": len(clips), "frames": sum(map(len, clips)),
                             "independent_windows": report["vs_fp32"]["samples"]}
    blind = []
    if stream:
        report["controls"] = {}
        for name, passes in CONTROLS.items():
            scores = _scores(expected, [control_logits(runtime, feed, passes) for feed in clips], window, stream)
            report["controls"][name] = {**scores, "clears_bar": meets_bar(precision, scores)}
            if report["controls"][name]["clears_bar"]:
                blind.append(name)
    if not meets_bar(precision, report):
        report["verdict"] = "fail"
    elif blind:
        report["verdict"] = "inconclusive"
        report["inconclusive_because"] = (f"control {' and '.join(blind)} (no temporal state) clears the bar too: "
                                          f"these frames cannot see the stream's memory; verify on clips with motion")
    else:
        report["verdict"] = "pass"
    report["weak_verify"] = weak_verify
    report["passed"] = report["verdict"] == "pass" or (report["verdict"] == "inconclusive" and weak_verify)
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
    options: Mapping | None = None,
    name: str | None = None,
    progress: Callable[[str], None] = lambda step: None,
    time_step: TimeStep | None = None,
    verified_on: str = "given frames",
    weak_verify: bool = False,
) -> ExportResult:
    """Convert one form of `model` for one target and precision, verify it, write artifact + sidecar.

    `calibration_frames` and `verification_frames` are clips of preprocessed frames (a flat list of frames is one
    clip), each as a runner paced at the model's step would take it: a stream's states start from zero at every
    clip in both. `verified_on` names the verification frames in the sidecar; `weak_verify` accepts a verification
    whose controls clear the bar too (`verify_artifact`)."""
    start = time.perf_counter()
    converter = get_converter(target)
    converter.check_available()
    chosen = converter.options(options)  # a misspelt option fails before anything slow
    if precision not in converter.precisions:
        raise ExportError(f"target {target!r} has no {precision} export; it offers {', '.join(converter.precisions)}")
    calibration_clips, verification_clips = as_clips(calibration_frames), as_clips(verification_frames)
    if max(map(len, verification_clips), default=0) < model.n_segments:
        raise InputError(f"verification needs a clip of at least {model.n_segments} frames (one window), "
                         f"the verification source's longest gave {max(map(len, verification_clips), default=0)}")
    out_dir = ensure_writable_dir(out_dir)
    height, width = preprocess.size
    model = model.eval()
    spec = build_form(model, form, height, width, chosen.state)
    name = name or f"{model.config.backbone}_{form}_{precision}"
    calibration, clip_starts = [], ()
    if precision.startswith("int8") and precision != "int8w":
        feeds = clip_feeds(spec, calibration_clips, model.n_segments, clip_stride=model.n_segments // 2 or 1)
        if not any(feeds):
            raise CalibrationError("int8 export needs calibration frames, and the calibration source gave none"
                                   + (f" in a clip of {model.n_segments} or more" if calibration_clips else ""))
        clip_starts = tuple(np.cumsum([0] + [len(feed) for feed in feeds[:-1]]).tolist())
        calibration = [inputs for feed in feeds for inputs in feed]
    example = zero_inputs(spec) if not calibration else calibration[0]
    # The converter sees the shift variant its options choose; verification compares against the training variant.
    converted = deploy_variant(spec.module, example) if chosen.shift_form == "deploy" else spec.module
    job = ExportJob(name, form, precision, converted, example, spec.input_names, spec.output_names, calibration,
                    chosen, spec.states, clip_starts)
    path = out_dir / f"{name}{converter.suffix}"
    with atomic_output(path) as tmp:
        progress(f"{target} {form} {precision}: converting")
        made = converter.convert(job, tmp)
        sidecar = form_sidecar(model, spec, form, labels, preprocess, artifact=path.name, target=target,
                               precision=precision, source=dict(source or {}), tools=tool_versions(),
                               time_step=time_step.to_dict() if time_step else None)
        _apply_io_quantization(sidecar, made.io_quantization)
        if form == "stream" and not spec.keeps_state_inside:
            _apply_state_io(sidecar, made.state_layouts)
        sidecar.update(made.fields, shift_form=chosen.shift_form)
        validate_sidecar(stamped(sidecar), str(path))
        progress(f"{target} {form} {precision}: verifying")
        if converter.runs_here(chosen):
            feeds = clip_feeds(spec, verification_clips, model.n_segments, clip_stride=model.n_segments)
            sidecar["parity"] = verify_artifact(tmp, sidecar, spec.module, feeds, made.quantized_reference,
                                                verified_on, weak_verify)
        else:
            sidecar["parity"] = {"structural": converter.verify_structure(tmp, job),
                                 "passed": True, "criterion": "structure only: this OS cannot run the artifact"}
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


def _apply_state_io(sidecar: dict, layouts: dict) -> None:
    """Each explicit state as it crosses the artifact boundary: its layout (an nhwc state's shape is (1, h, w, g)),
    and in `states` what a runner carries between steps. A state whose input shares its output's quantization is
    carried as the artifact's own integers (its dtype and quantization; it starts at the zero point); any other
    is carried as float32, requantized on the way in."""
    tensors = {t["name"]: t for t in sidecar["inputs"] + sidecar["outputs"]}
    for state in sidecar["states"]:
        layout = layouts.get(state["name"])  # none named: nchw, which a sidecar leaves unsaid
        state_in, state_out = tensors[state["name"]], tensors["new_" + state["name"]]
        for tensor in (state, state_in, state_out) if layout else ():
            if layout == "nhwc":
                n, c, h, w = tensor["shape"]
                tensor["shape"] = [n, h, w, c]
            tensor["layout"] = layout
        q = state_in.get("quantization")
        if q is not None and q == state_out.get("quantization"):
            state.update(dtype=q["dtype"], quantization=dict(q))
