"""README's first command as a function: the toolkit end to end on the default model.

The shift's cost, a real ImageNet prediction through STSM, the default model's accuracy on motion benchmark
test clips, an int8 export to every target (verified in each runtime) with each artifact's accuracy on the same
clips, a real video streamed through the int8 .pte with its label timeline, and what a person watching the label
would see: the test clips as continuous streams, with the reaction time and streaming accuracy of the shown label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from stsm_edge.app.classify import classify_report
from stsm_edge.app.info import shift_report
from stsm_edge.app.recognize import compare_window, recognize_video, write_predictions
from stsm_edge.checkpoints import ModelBundle
from stsm_edge.console import Progress, say, table
from stsm_edge.converters.export import DEFAULT_VERIFY_VIDEO, export_model
from stsm_edge.converters.plan import ExportPlan
from stsm_edge.data.motion import make_motion_data
from stsm_edge.defaults import default_model
from stsm_edge.errors import StsmEdgeError, TargetUnavailable
from stsm_edge.fit.evaluate import evaluate
from stsm_edge.fit.live import LiveSettings, evaluate_live
from stsm_edge.runner import FrameBufferRunner
from stsm_edge.runtimes.base import open_runtime
from stsm_edge.runtimes.torch import TorchRuntime

CALIBRATION_FRAMES, VERIFICATION_FRAMES = 288, 144


def run_demo(out: Path = Path("out"), video: Path | None = None, skip_export: bool = False,
             clips_per_class: int = 20, log: Callable[[str], None] = say) -> int:
    """0 when every artifact passed its verification, 1 otherwise (the run still goes to the end)."""
    from stsm_edge.assets import video_path

    bundle = default_model()
    size = bundle.preprocess.size[0]
    log(shift_report(bundle.model.config, size))
    log("")
    log(classify_report())
    if skip_export:
        return 0
    out = Path(out)
    motion = out / "motion"
    if not (motion / "test.txt").exists():
        log(f"\nrendering motion benchmark clips into {motion} (seed 0: the default model's own test clips)")
        make_motion_data(motion, seed=0, clips_per_class=clips_per_class)
    log("\nexporting the default model to every target in int8 (calibrated on motion train clips, "
        "verified on val clips)")
    plan = ExportPlan(target="all", precision="int8", out=str(out), calib=str(motion / "train.txt"),
                      calib_frames=CALIBRATION_FRAMES, verify=str(motion / "val.txt"),
                      verify_frames=VERIFICATION_FRAMES)
    summary = export_model(bundle, plan, Progress("export", "artifact"))
    log(summary.report())
    if not summary.passed:  # not fatal: the table says which artifacts missed their bar, the sidecars hold why
        log("note: some artifacts failed or missed their parity criterion (see the table; sidecars hold the figures)")
    log(f"\naccuracy on {motion / 'test.txt'}: eager fp32 and each int8 streaming artifact in its runtime")
    log(accuracy_table(bundle, motion / "test.txt",
                       sorted(p for p in out.glob("*_stream_int8.*") if p.suffix != ".json")))
    video = Path(video) if video else video_path(DEFAULT_VERIFY_VIDEO)
    log(f"\nstreaming {video.name} through the int8 ExecuTorch model")
    artifact = out / "mobilenet_v2_stream_int8.pte"
    runner = FrameBufferRunner.open(artifact)
    report = recognize_video(runner, video, progress=False)
    write_predictions(out / "predictions.csv", report.predictions)
    log(report.summary(runner))
    log(compare_window(runner, report, str(artifact), None, video, progress=False))
    log(f"\nthe live label on {motion / 'test.txt'} played as continuous streams (benchmarks/live measures it on "
        "held-out seed-7 clips at 15, 30 and 60 fps)")
    live = FrameBufferRunner(runner.runtime, top_k=len(runner.labels))
    log(evaluate_live(live, motion / "test.txt", LiveSettings(), artifact.name).report(motion / "test.txt"))
    return 0 if summary.passed else 1


def accuracy_table(bundle: ModelBundle, annotation_list: Path, artifacts: list[Path]) -> str:
    """Top-1 of the eager model and each artifact on the same clips, and each artifact's gap to eager."""
    fp32 = evaluate(TorchRuntime(Path("default"), bundle=bundle), annotation_list)
    rows, not_run = [["eager (torch)", "fp32", f"{fp32.top1:.1%}", "-"]], []
    for artifact in artifacts:
        try:
            result = evaluate(open_runtime(artifact), annotation_list)
        except TargetUnavailable as exc:  # e.g. CoreML on Linux: said once under the table, not as a result
            not_run.append(str(exc))
            continue
        except StsmEdgeError as exc:
            rows.append([artifact.name, "int8", f"error: {exc}", "-"])
            continue
        rows.append([artifact.name, "int8", f"{result.top1:.1%}", f"{(result.top1 - fp32.top1) * 100:+.1f}"])
    text = table(["model", "precision", f"top-1 ({fp32.count} clips)", "vs fp32 (points)"], rows)
    return "\n".join([text, *(f"not run here: {reason}" for reason in not_run)])
