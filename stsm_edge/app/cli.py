"""`stsm-edge`: a thin front. Each command parses, calls one library function and prints; user errors are one
line, exit 2. A job's settings are declared once, on its config dataclass (stsm_edge.options); choices come from
the registries (targets, presets, layouts, backbones)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Sequence

from stsm_edge.app.info import ShiftCostQuery
from stsm_edge.console import Progress, ToolsToLog, human_bytes, say, setup_logging
from stsm_edge.converters.plan import ExportPlan
from stsm_edge.data.motion import SPLITS, MotionSpec
from stsm_edge.errors import StsmEdgeError
from stsm_edge.fit.distill import DistillConfig
from stsm_edge.fit.evaluate import EvalSettings
from stsm_edge.fit.live import LiveSettings
from stsm_edge.fit.train import TrainConfig
from stsm_edge.options import add_options, config_from
from stsm_edge.smoothing import SmoothingFlags
from stsm_edge.weights import ForeignFlags


def _which(args) -> str:
    """The model a command names: "default", "imagenet", a checkpoint or an artifact path."""
    return "default" if args.default else "imagenet" if getattr(args, "imagenet", False) else \
        getattr(args, "checkpoint", None) or args.model


def cmd_info(args):
    say(config_from(ShiftCostQuery, args).report())


def cmd_fetch_assets(args):
    from stsm_edge.assets import fetch_all

    say("\n".join(f"{name}: {path}" for name, path in fetch_all().items()))


def cmd_classify(args):
    from stsm_edge.app.classify import classify_report

    say(classify_report(args.image and Path(args.image)))


def cmd_export(args):
    from stsm_edge.converters.plan import export_model
    from stsm_edge.defaults import model_bundle

    plan = config_from(ExportPlan, args)  # checked before a model is loaded
    bundle = model_bundle(_which(args), config_from(ForeignFlags, args).load_options())
    summary = export_model(bundle, plan, Progress("export", "artifact", args.quiet))
    say(summary.report())
    return 0 if summary.passed else 1


def _runner(args):
    from stsm_edge.runner import FrameBufferRunner
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
    from stsm_edge.data.motion import make_motion_data, motion_data_summary

    progress = Progress("rendering clips", "clip", args.quiet)
    out = make_motion_data(Path(args.out), args.seed, args.clips_per_class, config_from(MotionSpec, args), progress,
                           tuple(args.splits))
    progress.close()
    say(motion_data_summary(out, args.clips_per_class, args.splits))


def cmd_train(args):
    from stsm_edge.fit.train import train

    say(f"best checkpoint: {train(config_from(TrainConfig, args), resume=args.resume)}")


def cmd_distill(args):
    from stsm_edge.fit.distill import distill

    say(f"best checkpoint: {distill(config_from(DistillConfig, args), resume=args.resume)}")


def cmd_eval(args):
    from stsm_edge.fit.evaluate import evaluate_model, plot_confusion

    if args.live:
        from stsm_edge.fit.live import evaluate_live_model

        settings = config_from(EvalSettings, args)
        run = evaluate_live_model(_which(args), settings, config_from(LiveSettings, args),
                                  config_from(SmoothingFlags, args), config_from(ForeignFlags, args).load_options())
        say(run.report(Path(settings.data)))
        return
    settings, progress = config_from(EvalSettings, args), Progress("evaluating", "clip", args.quiet)
    run = evaluate_model(_which(args), settings, config_from(ForeignFlags, args).load_options(), progress)
    progress.close()
    say(run.report(Path(settings.data)))
    if args.confusion:
        say(f"confusion matrix: {plot_confusion(run.result, Path(args.confusion), run.name)}")


def cmd_pack(args):
    from stsm_edge.weights import pack_checkpoint

    path = pack_checkpoint(Path(args.checkpoint), Path(args.out), {"command": args.command} if args.command else None)
    say(f"{path}: {human_bytes(path.stat().st_size)}")


def cmd_demo(args):
    from stsm_edge.app.demo import run_demo

    return run_demo(Path(args.out), args.video and Path(args.video), args.skip_export, args.clips_per_class)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other error a user can cause (subcommands inherit this class)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _models(*names: str):
    """Exactly one model: --default, --imagenet, --checkpoint PATH or --model ARTIFACT."""
    helps = {"default": "the default model (motion benchmark, 112x112)", "imagenet": "ImageNet STSM (224x224)",
             "checkpoint": "a checkpoint: stsm-edge, MMAction2, TSM or torchvision", "model": "artifact or checkpoint"}

    def add(p) -> None:
        group = p.add_mutually_exclusive_group(required=True)
        for name in names:
            group.add_argument(f"--{name}", action="store_true" if name in ("default", "imagenet") else None,
                               help=helps[name])
        if "checkpoint" in names:  # a checkpoint from another tool records neither its shift nor its labels
            add_options(p, ForeignFlags)
    return add


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stsm-edge", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks, debug logs and tools' output")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, func, help, *arguments):
        """Each argument: (flags, settings), an option dataclass, or a function that adds to the parser."""
        p = sub.add_parser(name, help=help)
        p.set_defaults(func=func)
        for argument in arguments:
            if isinstance(argument, tuple):
                p.add_argument(*argument[0].split(), **argument[1])
            else:
                add_options(p, argument) if isinstance(argument, type) else argument(p)
        return p

    quiet = ("--quiet", dict(action="store_true"))
    command("info", cmd_info, "params, FLOPs and streaming state of STSM vs the plain backbone", ShiftCostQuery)
    command("fetch-assets", cmd_fetch_assets, "fetch offline weights, videos and labels into the cache")
    command("classify", cmd_classify, "ImageNet top-5 of an image (default: scikit-image's coffee)",
            ("image", dict(nargs="?")))
    command("export", cmd_export, "convert a model for a target, verify it, write artifact + sidecar", quiet,
            _models("default", "imagenet", "checkpoint"), ExportPlan)
    runner = (("--threads", dict(type=int, help="runtime threads")),
              ("--stride", dict(type=int, default=1, help="clip models: a clip every N model steps")),
              ("--step-ms", dict(type=float, help="model time step (default: the one the model records)")),
              ("--no-pacing", dict(action="store_true", help="a model step per frame (motion at the wrong speed)")),
              ("--max-frames", dict(type=int)))
    command("run", cmd_run, "recognise actions in a video, frame by frame", ("video", {}), *runner, quiet,
                ("--out", dict(help="write an annotated video (mp4)")),
                ("--predictions", dict(help="write per-frame predictions (.csv or .json)")),
                ("--compare-window", dict(action="store_true", help="also run the clip form; print the cost ratio")),
                ("--window-model", dict(help="clip artifact for --compare-window (default: the _clip_ sibling)")),
                _models("model", "default"), SmoothingFlags)
    p = command("webcam", cmd_webcam, "live recognition from a camera, a stream URL or a video file", *runner,
                ("--headless", dict(action="store_true", help="no window; needs --record")),
                ("--record", dict(help="write the annotated stream to an mp4")), _models("model", "default"),
                SmoothingFlags)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, default=None, help="camera index (default 0)")
    source.add_argument("--source", help="video file or stream URL instead of a camera")
    sub.add_parser("bench", help="latency benchmarks: run, report, validate, android (benchmarks/README.md)")
    command("make-motion-data", cmd_make_motion_data, "render the motion benchmark (train/val/test)", quiet,
            ("--out", dict(required=True)), ("--seed", dict(type=int, default=0)),
            ("--clips-per-class", dict(type=int, default=100, help="train clips per class (val/test: a quarter)")),
            ("--splits", dict(nargs="+", default=list(SPLITS), choices=SPLITS)), MotionSpec)
    resume = ("--resume", dict(help="continue from a run's last.pt"))
    command("train", cmd_train, "fine-tune TSN / TSM / STSM on a clip folder (torchrun for DDP)", resume, TrainConfig)
    command("distill", cmd_distill, "a student with another shift (e.g. causal) from a teacher, on unlabelled video",
            resume, DistillConfig)
    command("eval", cmd_eval, "top-1/top-5 and a confusion matrix of a checkpoint or artifact on a clip list", quiet,
            ("--confusion", dict(help="write the confusion matrix PNG")), _models("default", "checkpoint", "model"),
            EvalSettings, LiveSettings, SmoothingFlags)
    command("pack", cmd_pack, "store a checkpoint's weights in fp16 without optimizer state, for shipping",
            ("checkpoint", {}), ("--out", dict(required=True)),
            ("--command", dict(help="the command that made the checkpoint, recorded inside it")))
    command("demo", cmd_demo, "the main job: info, a real prediction, int8 export to every target, streaming",
            ("--out", dict(default="out", help="where the artifacts go")),
            ("--video", dict(help="video to stream at the end (default: cup.mp4)")),
            ("--skip-export", dict(action="store_true", help="only the info and the prediction")),
            ("--clips-per-class", dict(type=int, default=20, help="motion clips for calibration and eval")))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # the harness parses its own options
        from stsm_edge.benchmarks.__main__ import main as bench_main

        return bench_main(argv[1:])
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    # Export and the demo run converters, quantizers and runtimes that print hundreds of lines: to a log.
    tools = ToolsToLog(Path(args.out) / "stsm-edge.log") if args.command in ("export", "demo") \
        and not args.verbose else contextlib.nullcontext()
    try:
        with tools:
            return args.func(args) or 0
    except StsmEdgeError as exc:
        if args.verbose:
            raise
        kept = getattr(tools, "kept", None)
        print(f"stsm-edge: error: {exc}" + (f" (the tools' output: {kept})" if kept else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stsm-edge: interrupted", file=sys.stderr)
        return 130

if __name__ == "__main__":
    sys.exit(main())
