"""`stsm-edge export` as a function: one model to several targets and forms (an ExportPlan), each verified in its
runtime. Calibration and verification frames are read once and shared by every artifact; a target that fails is
reported beside the others (a single requested artifact raises instead)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from stsm_edge.converters.base import export_artifact
from stsm_edge.converters.plan import ExportPlan

from stsm_edge.checkpoints import ModelBundle
from stsm_edge.console import Progress, human_bytes, table
from stsm_edge.data.sources import paced_clips, paced_clips_of
from stsm_edge.errors import CalibrationError, StsmEdgeError
from stsm_edge.fileio import ensure_writable_dir
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.timebase import DEFAULT_STEP_SECONDS, TimeStep, step_from_ms

DEFAULT_CALIB_VIDEO = "box.mp4"
DEFAULT_VERIFY_VIDEO = "cup.mp4"


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
                 check_text(r.parity), f"{r.seconds:.1f}s"] for r in self.results]
        rows += [[t, f, "-", "-", msg, "ERROR", "-"] for t, f, msg in self.failures]
        notes = sorted({r.parity["inconclusive_because"] for r in self.results if "inconclusive_because" in r.parity})
        verified = sorted({r.parity["verified_on"]["source"] for r in self.results if "verified_on" in r.parity})
        lines = [f"verified on {source}" for source in verified]
        lines += [f"inconclusive: {note}" + ("" if self.results[0].parity.get("weak_verify") else
                                             "; --weak-verify accepts it") for note in notes]
        return "\n".join([table(["target", "form", "precision", "size", "parity", "check", "time"], rows), *lines,
                          f"artifacts and sidecars in {self.out}"])


def check_text(parity: dict) -> str:
    verdict = parity.get("verdict", "pass" if parity["passed"] else "fail")
    if verdict == "inconclusive":
        return "pass (weak)" if parity["passed"] else "INCONCLUSIVE"
    return "pass" if parity["passed"] else "FAIL"


def parity_text(parity: dict) -> str:
    if "vs_fp32" not in parity:
        return parity.get("criterion", "")
    vs, frame = parity["vs_fp32"], parity.get("per_frame")
    if frame is None:
        return f"max|d| {vs['max_abs_diff']:.2e}, top-1 {vs['top1_agreement']:.1%} of {vs['samples']} clips"
    controls = parity.get("controls", {})
    shown = ", ".join(f"{name} {c['vs_fp32']['top1_agreement']:.0%}" for name, c in controls.items())
    return (f"top-1 {vs['top1_agreement']:.1%} of {vs['samples']} windows; per frame {frame['top1_agreement']:.1%}, "
            f"max|d| {frame['max_abs_diff']:.2e}" + (f"; controls: {shown}" if shown else ""))


@dataclass
class ExportFrames:
    """Calibration and verification clips of preprocessed frames, each paced at the model's time step."""

    calibration: list
    verification: list
    verified_on: str


def export_frames(bundle: ModelBundle, plan: ExportPlan, spec: PreprocessSpec, step_seconds: float) -> ExportFrames:
    """Where calibration and verification frames come from: the user's sources; else, for a model of the motion
    benchmark's classes, its train and val clips (rendered afresh, deterministic by seed); else a held-out quarter of
    a --calib list verifies; else the packaged videos. Verification must see motion to mean anything about a stream's
    temporal state: the controls in converters/base.py tell when it does not."""
    import tempfile

    from stsm_edge.assets import video_path
    from stsm_edge.data.annotations import read_annotations
    from stsm_edge.data.motion import MOTION_CLASSES

    motion = tuple(bundle.labels) == MOTION_CLASSES
    paced_at = f"paced at {step_seconds * 1e3:.1f} ms"
    calib_paths = verify_paths = None
    if plan.calib and Path(plan.calib).suffix == ".txt" and not plan.verify and not motion:
        listed = [record.path for record in read_annotations(Path(plan.calib))]
        if len(listed) >= 2:  # every 4th clip is held out, so each class of a sorted list keeps some of both
            verify_paths = listed[3::4] or listed[-1:]
            calib_paths = [path for path in listed if path not in verify_paths]
    with tempfile.TemporaryDirectory(prefix="stsm-edge-frames-") as scratch:
        def clips(source: str | None, paths, split: str, default_video: str, count: int, stride: int):
            if paths is not None:
                return paced_clips_of(paths, spec, step_seconds, count, stride)
            if source is None and motion:
                source = motion_list(Path(scratch), split, count, plan.motion_seed, step_seconds)
            return paced_clips(Path(source) if source else video_path(default_video), spec, step_seconds, count,
                               stride)

        calibration = []
        if plan.precision == "int8":
            calibration = clips(plan.calib, calib_paths, "train", DEFAULT_CALIB_VIDEO, plan.calib_frames,
                                plan.calib_stride)
            if not calibration:
                raise CalibrationError(f"calibration source {plan.calib} gave no frames")
        verification = clips(plan.verify, verify_paths, "val", DEFAULT_VERIFY_VIDEO, plan.verify_frames, 1)
    if plan.verify:
        verified_on = plan.verify
    elif verify_paths is not None:
        verified_on = f"every 4th clip of {plan.calib} (held out of calibration)"
    elif motion:
        verified_on = f"motion benchmark val clips, seed {plan.motion_seed}"
    else:
        verified_on = f"{DEFAULT_VERIFY_VIDEO} (packaged video)"
    return ExportFrames(calibration, verification, f"{verified_on}, {paced_at}")


def motion_list(folder: Path, split: str, frames: int, seed: int, step_seconds: float) -> Path:
    """The annotation list of enough motion benchmark clips of `split` for `frames` paced frames, rendered into
    `folder` (clip i of a split is the same whatever else is rendered, so these are the benchmark's own clips)."""
    import math

    from stsm_edge.data.motion import MOTION_CLASSES, MotionSpec, make_motion_data, split_sizes
    from stsm_edge.timebase import paced

    spec = MotionSpec()
    steps = len(list(paced(((i, i / spec.fps) for i in range(spec.frames)), step_seconds)))
    per_class = math.ceil(math.ceil(frames / steps) / len(MOTION_CLASSES))
    clips_per_class = next(n for n in range(1, 4 * per_class + 2) if split_sizes(n)[split] >= per_class)
    root = make_motion_data(folder / split, seed=seed, clips_per_class=clips_per_class, spec=spec, splits=(split,))
    return root / f"{split}.txt"


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
    time_step = export_time_step(bundle, plan.step_ms)
    frames = export_frames(bundle, plan, spec, time_step.seconds if time_step else DEFAULT_STEP_SECONDS)
    summary = ExportSummary(out_dir)
    steps = [(t, f) for t in plan.targets for f in plan.forms]
    progress = progress or Progress("export", "artifact", quiet=True)
    for done, (target, form) in enumerate(steps):
        progress(done, len(steps))
        try:
            summary.results.append(export_artifact(
                bundle.model, target, form, plan.precision, out_dir, frames.calibration, frames.verification,
                bundle.labels, spec, bundle.source, options=plan.converter_options, progress=progress.note,
                time_step=time_step, verified_on=frames.verified_on, weak_verify=plan.weak_verify))
        except StsmEdgeError as exc:
            if len(steps) == 1:
                raise
            summary.failures.append((target, form, str(exc)))
    progress(len(steps), len(steps))
    progress.close()
    return summary
