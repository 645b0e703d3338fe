"""`stsm-edge`: a thin front. Each command parses, calls one library function and prints; user errors are one
line, exit 2. A job's settings are declared once, on its config dataclass (stsm_edge.options); choices come from
the registries (targets, presets, layouts, backbones). Heavy imports happen inside the job: `--help` and usage
errors answer without loading torch."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection, Sequence

from stsm_edge.console import Progress, ToolsToLog, human_bytes, say, setup_logging
from stsm_edge.errors import StsmEdgeError
from stsm_edge.options import (
    CLIPS_PER_CLASS,
    MODEL,
    OUT,
    SEED,
    DeviceConfig,
    ForeignFlags,
    RunnerSettings,
    add_flag,
    add_options,
    config_from,
    flag,
)


def _which(args) -> str:
    """The model a command names: "default", "imagenet", a checkpoint or an artifact path."""
    return "default" if args.default else "imagenet" if getattr(args, "imagenet", False) else \
        getattr(args, "checkpoint", None) or args.model


def cmd_info(args):
    from stsm_edge.app.info import ShiftCostQuery

    say(config_from(ShiftCostQuery, args).report())


def cmd_fetch_assets(args):
    from stsm_edge.assets import fetch_all

    say("\n".join(f"{name}: {path}" for name, path in fetch_all().items()))


def cmd_classify(args):
    from stsm_edge.app.classify import classify_report

    say(classify_report(args.image and Path(args.image)))


def _load_options(args):
    """What the command line says about a checkpoint from another tool (checkpoints.LoadOptions)."""
    from stsm_edge.checkpoints import LoadOptions

    return LoadOptions.from_flags(config_from(ForeignFlags, args))


def cmd_export(args):
    from stsm_edge.converters.export import export_model
    from stsm_edge.converters.plan import ExportPlan
    from stsm_edge.defaults import model_bundle

    plan = config_from(ExportPlan, args)  # checked before a model is loaded
    bundle = model_bundle(_which(args), _load_options(args))
    summary = export_model(bundle, plan, Progress("export", "artifact", args.quiet))
    say(summary.report())
    return 0 if summary.passed else 1


def _runner(args):
    from stsm_edge.runner import FrameBufferRunner
    from stsm_edge.smoothing import SmoothingFlags
    from stsm_edge.timebase import step_from_ms

    return FrameBufferRunner.open(_which(args), args.threads, smoothing=config_from(SmoothingFlags, args), top_k=3,
                                  stride=args.stride, pacing=not args.no_pacing,
                                  step_seconds=None if args.step_ms is None else step_from_ms(args.step_ms).seconds)


def cmd_run(args):
    from stsm_edge.app.recognize import compare_window, recognize_video, write_predictions

    runner = _runner(args)
    report = recognize_video(runner, Path(args.video), args.out and Path(args.out), args.max_frames, not args.quiet)
    if args.predictions:
        write_predictions(Path(args.predictions), report.predictions)
    say(report.summary(runner))
    if args.compare_window:
        say(compare_window(runner, report, _which(args), args.window_model, Path(args.video), args.max_frames,
                           args.threads, not args.quiet))
    if args.out:
        say(f"annotated video: {args.out}")


def cmd_webcam(args):
    from stsm_edge.app.webcam import run_webcam

    summary = run_webcam(_runner(args), camera=args.camera, source=args.source, headless=args.headless,
                         record=args.record and Path(args.record), max_frames=args.max_frames)
    say(f"{summary['frames']} frames in {summary['seconds']:.1f}s ({summary['fps']:.1f} FPS), {summary['dropped']} "
        "stale frames dropped" + (f"; recorded {summary['record']}" if summary["record"] else ""))


def cmd_make_motion_data(args):
    from stsm_edge.data.motion import MotionSpec, make_motion_data, motion_data_summary

    progress = Progress("rendering clips", "clip", args.quiet)
    out = make_motion_data(Path(args.out), args.seed, args.clips_per_class, config_from(MotionSpec, args), progress,
                           tuple(args.splits))
    progress.close()
    say(motion_data_summary(out, args.clips_per_class, args.splits))


def cmd_train(args):
    from stsm_edge.fit.config import TrainConfig
    from stsm_edge.fit.train import train

    config = config_from(TrainConfig, args)
    say(f"best checkpoint: {train(config, args.resume, device=config_from(DeviceConfig, args))}")


def cmd_distill(args):
    from stsm_edge.fit.config import DistillConfig
    from stsm_edge.fit.distill import distill

    config = config_from(DistillConfig, args, teacher_flags=config_from(ForeignFlags, args))
    say(f"best checkpoint: {distill(config, args.resume, device=config_from(DeviceConfig, args))}")


def cmd_eval(args):
    from stsm_edge.fit.config import EvalSettings, LiveSettings
    from stsm_edge.fit.evaluate import evaluate_model, plot_confusion

    if args.live:
        from stsm_edge.fit.live import evaluate_live_model
        from stsm_edge.smoothing import SmoothingFlags

        settings = config_from(EvalSettings, args)
        run = evaluate_live_model(_which(args), settings, config_from(LiveSettings, args),
                                  config_from(SmoothingFlags, args), _load_options(args))
        say(run.report(Path(settings.data)))
        return
    settings, progress = config_from(EvalSettings, args), Progress("evaluating", "clip", args.quiet)
    run = evaluate_model(_which(args), settings, _load_options(args), progress,
                         config_from(DeviceConfig, args))
    progress.close()
    say(run.report(Path(settings.data)))
    if args.confusion:
        say(f"confusion matrix: {plot_confusion(run.result, Path(args.confusion), run.name)}")


def cmd_pack(args):
    from stsm_edge.checkpoints import pack_checkpoint

    path = pack_checkpoint(Path(args.checkpoint), Path(args.out), {"command": args.command} if args.command else None)
    say(f"{path}: {human_bytes(path.stat().st_size)}")


def cmd_demo(args):
    from stsm_edge.app.demo import run_demo

    return run_demo(Path(args.out), args.video and Path(args.video), args.skip_export, args.clips_per_class)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other error a user can cause (subcommands inherit this class)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


MODEL_FLAGS = {"default": flag("the default model (motion benchmark, 112x112)", action="store_true"),
               "imagenet": flag("ImageNet STSM (224x224)", action="store_true"),
               "checkpoint": flag("a checkpoint: stsm-edge, MMAction2, TSM or torchvision"),
               "model": MODEL}
QUIET = flag("no progress bars", flag="--quiet", action="store_true")
RESUME = flag("continue from a run's last.pt", flag="--resume")


def _models(p, *names: str) -> None:
    """Exactly one model: --default, --imagenet, --checkpoint PATH or --model ARTIFACT."""
    group = p.add_mutually_exclusive_group(required=True)
    for name in names:
        add_flag(group, MODEL_FLAGS[name], f"--{name}")
    if "checkpoint" in names:  # a checkpoint from another tool records neither its shift nor its labels
        add_options(p, ForeignFlags)


# Each command's arguments are added only when it is the one parsed (build_parser's `commands`), and each function
# imports the declarations it needs: `stsm-edge --help` and a light command's `--help` load no torch.

def _info_arguments(p) -> None:
    from stsm_edge.app.info import ShiftCostQuery

    add_options(p, ShiftCostQuery)


def _classify_arguments(p) -> None:
    p.add_argument("image", nargs="?")


def _export_arguments(p) -> None:
    from stsm_edge.converters.plan import ExportPlan

    add_flag(p, QUIET)
    _models(p, "default", "imagenet", "checkpoint")
    add_options(p, ExportPlan)


def _played(p) -> None:
    """What run and webcam share: the runner, the model and the smoothing."""
    from stsm_edge.smoothing import SmoothingFlags

    add_options(p, RunnerSettings)
    _models(p, "model", "default")
    add_options(p, SmoothingFlags)


def _run_arguments(p) -> None:
    p.add_argument("video")
    add_flag(p, QUIET)
    add_flag(p, OUT, help="write an annotated video (mp4)")
    p.add_argument("--predictions", help="write per-frame predictions (.csv or .json)")
    p.add_argument("--compare-window", action="store_true", help="also run the clip form; print the cost ratio")
    p.add_argument("--window-model", help="clip artifact for --compare-window (default: the _clip_ sibling)")
    _played(p)


def _webcam_arguments(p) -> None:
    p.add_argument("--headless", action="store_true", help="no window; needs --record")
    p.add_argument("--record", help="write the annotated stream to an mp4")
    _played(p)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, default=None, help="camera index (default 0)")
    source.add_argument("--source", help="video file or stream URL instead of a camera")


def _make_motion_data_arguments(p) -> None:
    from stsm_edge.data.motion import SPLITS, MotionSpec

    add_flag(p, QUIET)
    add_flag(p, OUT, required=True, help="the benchmark's folder: videos, train/val/test lists, labels")
    add_flag(p, SEED, type=int, default=0, help="the rendering seed")
    add_flag(p, CLIPS_PER_CLASS, type=int, default=100)
    p.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    add_options(p, MotionSpec)


def _train_arguments(p) -> None:
    from stsm_edge.fit.config import TrainConfig

    add_flag(p, RESUME)
    add_options(p, TrainConfig)
    add_options(p, DeviceConfig)


def _distill_arguments(p) -> None:
    from stsm_edge.fit.config import DistillConfig

    add_flag(p, RESUME)
    add_options(p, DistillConfig)
    add_options(p, DeviceConfig)
    add_options(p, ForeignFlags)  # for a teacher from another tool


def _eval_arguments(p) -> None:
    from stsm_edge.fit.config import EvalSettings, LiveSettings
    from stsm_edge.smoothing import SmoothingFlags

    add_flag(p, QUIET)
    p.add_argument("--confusion", help="write the confusion matrix PNG")
    _models(p, "default", "checkpoint", "model")
    add_options(p, EvalSettings)
    add_options(p, LiveSettings)
    add_options(p, SmoothingFlags)
    add_options(p, DeviceConfig)


def _pack_arguments(p) -> None:
    p.add_argument("checkpoint")
    add_flag(p, OUT, required=True, help="the packed checkpoint")
    p.add_argument("--command", help="the command that made the checkpoint, recorded inside it")


def _demo_arguments(p) -> None:
    add_flag(p, OUT, default="out", help="where the artifacts go")
    p.add_argument("--video", help="video to stream at the end (default: cup.mp4)")
    p.add_argument("--skip-export", action="store_true", help="only the info and the prediction")
    add_flag(p, CLIPS_PER_CLASS, type=int, default=20, help="motion clips per class for calibration and eval")


@dataclass(frozen=True)
class Command:
    help: str
    job: Callable
    arguments: Callable[[argparse.ArgumentParser], None] | None = None


COMMANDS = {
    "info": Command("params, FLOPs and streaming state of STSM vs the plain backbone", cmd_info, _info_arguments),
    "fetch-assets": Command("fetch offline weights, videos and labels into the cache", cmd_fetch_assets),
    "classify": Command("ImageNet top-5 of an image (default: scikit-image's coffee)", cmd_classify,
                        _classify_arguments),
    "export": Command("convert a model for a target, verify it, write artifact + sidecar", cmd_export,
                      _export_arguments),
    "run": Command("recognise actions in a video, frame by frame", cmd_run, _run_arguments),
    "webcam": Command("live recognition from a camera, a stream URL or a video file", cmd_webcam, _webcam_arguments),
    "bench": Command("latency benchmarks: run, report, validate, android (benchmarks/README.md)", None),
    "make-motion-data": Command("render the motion benchmark (train/val/test)", cmd_make_motion_data,
                                _make_motion_data_arguments),
    "train": Command("fine-tune TSN / TSM / STSM on a clip folder (torchrun for DDP)", cmd_train, _train_arguments),
    "distill": Command("a student with another shift (e.g. causal) from a teacher, on unlabelled video", cmd_distill,
                       _distill_arguments),
    "eval": Command("top-1/top-5 and a confusion matrix of a checkpoint or artifact on a clip list", cmd_eval,
                    _eval_arguments),
    "pack": Command("store a checkpoint's weights in fp16 without optimizer state, for shipping", cmd_pack,
                    _pack_arguments),
    "demo": Command("the main job: info, a real prediction, int8 export to every target, streaming", cmd_demo,
                    _demo_arguments),
}


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with `commands`, only those commands get their arguments (the rest list their name and help)."""
    parser = _Parser(prog="stsm-edge", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks, debug logs and tools' output")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help)
        p.set_defaults(func=command.job)
        if command.arguments and (commands is None or name in commands):
            command.arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # the harness parses its own options
        from stsm_edge.benchmarks.__main__ import main as bench_main

        return bench_main(argv[1:])
    named = next((word for word in argv if not word.startswith("-")), None)  # the command, before its arguments
    args = build_parser(commands=(named,)).parse_args(argv)
    setup_logging(args.verbose)
    # Export and the demo run converters, quantizers and runtimes that print hundreds of lines: to a log.
    tools = ToolsToLog(Path(args.out) / "stsm-edge.log") if args.command in ("export", "demo") \
        and not args.verbose else contextlib.nullcontext()
    return run_guarded(tools, lambda: args.func(args), args.verbose)


def run_guarded(tools, command, verbose: bool = False) -> int:
    """`command()` inside `tools` (a ToolsToLog or a null context), its errors as one line on the terminal's stderr
    and an exit status: 2 for a refused or failed command, 130 for an interrupt, 141 when the terminal's stdout pipe
    was closed (`| head`), as a shell counts SIGPIPE."""
    try:
        with tools:
            return command() or 0
    except StsmEdgeError as exc:
        if verbose:
            raise
        kept = getattr(tools, "kept", None)
        print(f"stsm-edge: error: {exc}" + (f" (the tools' output: {kept})" if kept else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stsm-edge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Nothing more can reach stdout; point it at /dev/null so the interpreter's last flush does not fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("stsm-edge: stopped: the output pipe was closed", file=sys.stderr)
        return 141

if __name__ == "__main__":
    sys.exit(main())
