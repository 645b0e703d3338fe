"""`stsm-edge export` as a function: one model to several targets and forms, each verified in its runtime.

Calibration and verification frames are read once and shared by every artifact; a target that fails is
reported beside the others (a single requested artifact raises instead)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from stsm_edge.converters.base import PRECISIONS, TARGETS, export_artifact, get_converter

from stsm_edge.checkpoints import ModelBundle
from stsm_edge.console import Progress, human_bytes, table
from stsm_edge.data.sources import preprocessed_frames
from stsm_edge.errors import CalibrationError, InputError, StsmEdgeError
from stsm_edge.fileio import ensure_writable_dir
from stsm_edge.options import STEP_MS, ModelFlags, option
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.streaming import STATE_LOCATIONS
from stsm_edge.timebase import TimeStep, step_from_ms

DEFAULT_CALIB_VIDEO = "box.mp4"
DEFAULT_VERIFY_VIDEO = "cup.mp4"
FORMS = ("clip", "stream")


@dataclass(frozen=True)
class ExportPlan:
    target: str = option("all", "", choices=(*TARGETS, "all"))
    form: str = option("both", "clip (T frames in), stream (a frame, and the shift states unless --state internal) "
                               "or both", choices=(*FORMS, "both"))
    precision: str = option("fp32", "", choices=PRECISIONS)
    state: str = option("explicit", "where a stream keeps the shift's memory: explicit (state inputs and outputs the "
                                    "runner carries) or internal (inside the program: executorch, coreml)",
                        choices=STATE_LOCATIONS)
    out: str = option("out", "where the artifacts and their sidecars go")
    calib: str | None = option(None, "video, image folder or clip list for int8 calibration (default: box.mp4)")
    calib_frames: int = option(96, "")
    calib_stride: int = option(2, "")
    verify: str | None = option(None, "held-out video or clip list for the parity check (default: cup.mp4)")
    verify_frames: int = option(120, "")
    size: int | None = ModelFlags.size.field(None)  # default: the model's own
    step_ms: float | None = STEP_MS.field(None)  # default: the checkpoint's
    converter_option: tuple[str, ...] | None = option(
        None, "a converter option KEY=VALUE, e.g. shift_form=training or quant_format=qdq (repeatable; each target's "
              "options are its dataclass in stsm_edge/converters)", flag="--option", action="append", nargs=None,
        metavar="KEY=VALUE")

    @property
    def targets(self) -> tuple[str, ...]:
        return TARGETS if self.target == "all" else (self.target,)

    @property
    def forms(self) -> tuple[str, ...]:
        return FORMS if self.form == "both" else (self.form,)

    @property
    def converter_options(self) -> dict:
        """KEY=VALUE pairs, each value read as JSON when it is (a number, true/false), else as text; plus `state`
        when it is not the default (only the targets that can keep states inside have that option)."""
        options = {"state": self.state} if self.state != "explicit" else {}
        for pair in self.converter_option or ():
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise InputError(f"--option takes KEY=VALUE, got {pair!r}")
            try:
                options[key] = json.loads(value)
            except json.JSONDecodeError:
                options[key] = value
        return options

    def __post_init__(self) -> None:
        """Checks that need no model, so a bad request fails before one is loaded."""
        if self.size is not None and self.size < 1:
            raise InputError(f"--size must be a positive number of pixels, got {self.size}")
        if len(self.targets) == 1:
            get_converter(self.targets[0]).check_available()
        if self.state != "explicit" and self.forms != ("stream",):
            raise InputError(f"--state {self.state} needs --form stream: the clip form carries no state")
        for target in self.targets:  # a misspelt option fails before a model is loaded
            converter = get_converter(target)
            if self.state != "explicit" and not converter.can_keep_state_inside():
                able = [t for t in TARGETS if get_converter(t).can_keep_state_inside()]
                raise InputError(f"target {target!r} keeps a stream's states explicit only; --state {self.state} "
                                 f"is for {', '.join(able)}")
            converter.options(self.converter_options)


@dataclass
class ExportSummary:
    out: Path
    results: list = field(default_factory=list)  # stsm_edge.converters.base.ExportResult
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (target, form, error)

    @property
    def passed(self) -> bool:
        return not self.failures and all(r.parity["passed"] for r in self.results)

    def report(self) -> str:
        rows = [[r.target, r.form, r.precision, human_bytes(r.size_bytes), parity_text(r.parity),
                 "pass" if r.parity["passed"] else "FAIL", f"{r.seconds:.1f}s"] for r in self.results]
        rows += [[t, f, "-", "-", msg, "ERROR", "-"] for t, f, msg in self.failures]
        return table(["target", "form", "precision", "size", "parity", "check", "time"], rows) + \
            f"\nartifacts and sidecars in {self.out}"


def parity_text(parity: dict) -> str:
    if "vs_fp32" not in parity:
        return parity.get("criterion", "")
    vs, frame = parity["vs_fp32"], parity.get("per_frame")
    if frame is None:
        return f"max|d| {vs['max_abs_diff']:.2e}, top-1 {vs['top1_agreement']:.1%} of {vs['samples']} clips"
    return (f"top-1 {vs['top1_agreement']:.1%} of {vs['samples']} windows; per frame {frame['top1_agreement']:.1%}, "
            f"max|d| {frame['max_abs_diff']:.2e}")


def frames_for(source: str | None, default_video: str, count: int, stride: int, spec: PreprocessSpec) -> list:
    from stsm_edge.assets import video_path

    return preprocessed_frames(Path(source) if source else video_path(default_video), spec, count, stride)


def export_time_step(bundle: ModelBundle, step_ms: float | None) -> TimeStep | None:
    """The time step the sidecar records: `step_ms`, else the checkpoint's; a warning when neither says."""
    import logging

    if step_ms is not None:
        return step_from_ms(step_ms)
    if bundle.time_step is None:
        logging.getLogger("stsm_edge").warning(
            "%s records no time step: the sidecar will say none and runners will use their default; "
            "pass --step-ms (the time between two frames the model was trained on)", bundle.source.get("checkpoint"))
    return bundle.time_step


def export_model(bundle: ModelBundle, plan: ExportPlan, progress: Progress | None = None) -> ExportSummary:
    """Every (target, form) of the plan, each verified; `progress` counts artifacts and names each step."""
    out_dir = ensure_writable_dir(Path(plan.out))
    spec = PreprocessSpec.for_size(plan.size, plan.size) if plan.size else bundle.preprocess
    calib = []
    if plan.precision == "int8":
        calib = frames_for(plan.calib, DEFAULT_CALIB_VIDEO, plan.calib_frames, plan.calib_stride, spec)
        if not calib:
            raise CalibrationError(f"calibration source {plan.calib} gave no frames")
    verify = frames_for(plan.verify, DEFAULT_VERIFY_VIDEO, plan.verify_frames, 1, spec)
    time_step = export_time_step(bundle, plan.step_ms)
    summary = ExportSummary(out_dir)
    steps = [(t, f) for t in plan.targets for f in plan.forms]
    progress = progress or Progress("export", "artifact", quiet=True)
    for done, (target, form) in enumerate(steps):
        progress(done, len(steps))
        try:
            summary.results.append(export_artifact(
                bundle.model, target, form, plan.precision, out_dir, calib, verify, bundle.labels, spec,
                bundle.source, options=plan.converter_options, progress=progress.note, time_step=time_step))
        except StsmEdgeError as exc:
            if len(steps) == 1:
                raise
            summary.failures.append((target, form, str(exc)))
    progress(len(steps), len(steps))
    progress.close()
    return summary
