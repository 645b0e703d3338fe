"""`stsm-edge`: a thin front. It parses, calls the library, prints; user errors are one line, exit 2."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from stsm_edge.data.motion import SPLITS
from stsm_edge.errors import StsmEdgeError, TargetUnavailable
from stsm_edge.shift import METHODS

DEFAULT_CALIB_VIDEO = "box.mp4"
DEFAULT_VERIFY_VIDEO = "cup.mp4"


def _human_bytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


# ---- info ----------------------------------------------------------------------------------------

def cmd_info(args: argparse.Namespace) -> int:
    from stsm_edge.info import compare_with_plain, streaming_state
    from stsm_edge.models.tsn import ModelConfig

    shift = _shift(args)
    config = ModelConfig(backbone=args.backbone, n_segments=args.segments, dims=shift.dims, fold_div=shift.fold_div,
                         causal=shift.causal, width_mult=args.width_mult)
    shifted, plain = compare_with_plain(config, args.size, args.size)
    print(f"{config.backbone}, T = {config.n_segments}, {args.size}x{args.size}, shift {args.method} (dims "
          f"{config.dims!r}, fold_div {config.fold_div}, {'causal' if config.causal else 'bidirectional'})")
    print_table(["model", "params", "GFLOPs (clip)"],
                [[c.name, f"{c.params:,}", f"{c.flops / 1e9:.3f}"] for c in (shifted, plain)])
    same = shifted.params == plain.params and shifted.flops == plain.flops
    print(f"shift adds {shifted.params - plain.params} params and {shifted.flops - plain.flops} FLOPs"
          f" ({'equal' if same else 'NOT equal'})")
    states = streaming_state(config, args.size, args.size)
    print(f"\nstreaming (causal) states: {len(states)}, {sum(s.nbytes for s in states):,} bytes per frame in fp32")
    print_table(["state", "shape", "bytes"], [[s.name, "x".join(map(str, s.shape)), f"{s.nbytes:,}"] for s in states])
    return 0


def _shift(args: argparse.Namespace):
    """The shift a --method (and, for custom, --dims/--fold-div/--causal) names, through shift.resolve_shift."""
    from stsm_edge.errors import InputError
    from stsm_edge.shift import resolve_shift

    try:
        return resolve_shift(args.method, args.dims, args.fold_div, args.causal)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _add_shift_options(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--method", default=default, choices=METHODS,
                   help=f"shift preset (stsm_edge.shift.PRESETS), or custom with --dims/--fold-div/--causal "
                        f"(default {default})")
    p.add_argument("--dims", help="custom shift: dimensions that shift, in order (letters of THW)")
    p.add_argument("--fold-div", type=int, help="custom shift: each dimension's group is C // fold_div (default 8)")
    p.add_argument("--causal", action="store_true", default=None,
                   help="custom shift: the T group takes frame t-1 only (streamable)")


# ---- assets and a first prediction ---------------------------------------------------------------

def cmd_fetch_assets(args: argparse.Namespace) -> int:
    from stsm_edge.assets import fetch_all

    for name, path in fetch_all().items():
        print(f"{name}: {path}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    """ImageNet top-5 of one image: the plain MobileNetV2, then the same weights inside STSM on a still clip."""
    import cv2
    import torch

    from stsm_edge.assets import coffee_image_path
    from stsm_edge.defaults import IMAGENET_CONFIG, imagenet_model
    from stsm_edge.errors import InputError
    from stsm_edge.models.tsn import ModelConfig, build_model
    from stsm_edge.preprocess import preprocess_tensor
    from stsm_edge.weights import load_weights

    path = Path(args.image) if args.image else coffee_image_path()
    if not path.is_file():
        raise InputError(f"{path}: no such image file")
    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise InputError(f"{path}: not an image OpenCV can read")
    bundle = imagenet_model()
    stsm, labels = bundle.model, bundle.labels
    plain = build_model(ModelConfig(**{**IMAGENET_CONFIG.to_dict(), "dims": ""}))
    load_weights(plain, "imagenet")
    x = preprocess_tensor(frame)
    still_clip = x.unsqueeze(1).expand(1, stsm.n_segments, *x.shape[1:])
    with torch.no_grad():
        results = {"plain MobileNetV2": plain.backbone.eval()(x).softmax(-1)[0],
                   f"STSM-MobileNetV2, still clip of {stsm.n_segments}": stsm(still_clip).softmax(-1)[0]}
    for name, probs in results.items():
        scores, indices = probs.topk(5)
        print(f"top-5 for {path.name}, {name} (ImageNet weights):")
        for score, index in zip(scores.tolist(), indices.tolist()):
            print(f"  {score:6.1%}  {labels[index]}")
    return 0


# ---- export --------------------------------------------------------------------------------------

def _load_model(args: argparse.Namespace):
    from stsm_edge.defaults import default_model, imagenet_model
    from stsm_edge.errors import InputError
    from stsm_edge.weights import load_model

    imagenet = getattr(args, "imagenet", False)
    if sum(map(bool, (args.default, args.checkpoint, imagenet))) != 1:
        raise InputError("give exactly one of --default, --imagenet or --checkpoint PATH")
    if imagenet:
        return imagenet_model()
    return default_model() if args.default else load_model(Path(args.checkpoint), _load_options(args))


def _load_options(args: argparse.Namespace):
    from stsm_edge.errors import InputError
    from stsm_edge.shift import PRESETS
    from stsm_edge.weights import LoadOptions

    if args.segments is not None and args.segments < 1:
        raise InputError(f"--segments must be >= 1, got {args.segments}")
    return LoadOptions(shift=PRESETS[args.method] if args.method else None, n_segments=args.segments,
                       layout=args.layout, labels=Path(args.labels) if args.labels else None)


def _add_checkpoint_options(p: argparse.ArgumentParser, whose: str = "--checkpoint") -> None:
    """How to read a checkpoint from MMAction2, TSM or torchvision, which does not record its shift or labels."""
    from stsm_edge.shift import PRESETS
    from stsm_edge.weights import LAYOUTS

    p.add_argument("--labels", help=f"class names for {whose}, one per line (default: its own; Kinetics-400's for "
                                    "a 400-class checkpoint from another tool)")
    p.add_argument("--method", choices=list(PRESETS),
                   help=f"the shift {whose} was trained with, if it is from another tool (default: its MMAction2 "
                        "config, else tsm)")
    p.add_argument("--segments", type=int, help=f"frames per clip {whose} was trained with, if from another tool "
                                                "(default: its MMAction2 config, else 8)")
    p.add_argument("--layout", choices=list(LAYOUTS), help=f"read {whose}'s keys in this layout (default: detected)")


def _frames(source: str | None, default_video: str, count: int, stride: int, spec):
    from stsm_edge.preprocess import preprocess
    from stsm_edge.video import iter_frames

    path = Path(source) if source else _asset_video(default_video)
    return [preprocess(f, spec) for f in iter_frames(path, count, stride)]


def cmd_export(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from converters.base import TARGETS, export_artifact, get_converter
    from stsm_edge.errors import CalibrationError, InputError
    from stsm_edge.fileio import ensure_writable_dir
    from stsm_edge.preprocess import PreprocessSpec

    if args.size is not None and args.size < 1:
        raise InputError(f"--size must be a positive number of pixels, got {args.size}")
    if args.target != "all":  # fail before loading models and frames
        get_converter(args.target).check_available()
    bundle = _load_model(args)
    model, labels, source = bundle.model, bundle.labels, bundle.source
    out_dir = ensure_writable_dir(Path(args.out))
    spec = PreprocessSpec.for_size(args.size, args.size) if args.size else bundle.preprocess
    targets = TARGETS if args.target == "all" else (args.target,)
    forms = ("clip", "stream") if args.form == "both" else (args.form,)
    calib = []
    if args.precision == "int8":
        calib = _frames(args.calib, DEFAULT_CALIB_VIDEO, args.calib_frames, args.calib_stride, spec)
        if not calib:
            raise CalibrationError(f"calibration source {args.calib} gave no frames")
    verify = _frames(args.verify, DEFAULT_VERIFY_VIDEO, args.verify_frames, 1, spec)
    time_step = _export_time_step(bundle, args.step_ms)
    results, failures = [], []
    steps = [(t, f) for t in targets for f in forms]
    with tqdm(total=len(steps), desc="export", unit="artifact", disable=args.quiet) as bar:
        for target, form in steps:
            try:
                results.append(export_artifact(
                    model, target, form, args.precision, out_dir, calib, verify, labels, spec, source,
                    progress=bar.set_postfix_str, time_step=time_step))
            except StsmEdgeError as exc:
                if len(steps) == 1:
                    raise
                failures.append((target, form, str(exc)))
            bar.update()
    rows = [[r.target, r.form, r.precision, _human_bytes(r.size_bytes), _parity_text(r.parity),
             "pass" if r.parity["passed"] else "FAIL", f"{r.seconds:.1f}s"] for r in results]
    rows += [[t, f, args.precision, "-", msg, "ERROR", "-"] for t, f, msg in failures]
    print_table(["target", "form", "precision", "size", "parity", "check", "time"], rows)
    print(f"artifacts and sidecars in {out_dir}")
    return 0 if not failures and all(r.parity["passed"] for r in results) else 1


def _export_time_step(bundle, step_ms: float | None):
    """The time step the sidecar records: --step-ms, else the checkpoint's; a warning when neither says."""
    from stsm_edge.timebase import step_from_ms

    if step_ms is not None:
        return step_from_ms(step_ms)
    if bundle.time_step is None:
        logging.getLogger("stsm_edge").warning(
            "%s records no time step: the sidecar will say none and runners will use their default; "
            "pass --step-ms (the time between two frames the model was trained on)", bundle.source.get("checkpoint"))
    return bundle.time_step


def _parity_text(parity: dict) -> str:
    if "vs_fp32" not in parity:
        return parity.get("criterion", "")
    vs, frame = parity["vs_fp32"], parity.get("per_frame")
    if frame is None:
        return f"max|d| {vs['max_abs_diff']:.2e}, top-1 {vs['top1_agreement']:.1%} of {vs['samples']} clips"
    return (f"top-1 {vs['top1_agreement']:.1%} of {vs['samples']} windows; per frame {frame['top1_agreement']:.1%}, "
            f"max|d| {frame['max_abs_diff']:.2e}")


# ---- run and webcam ------------------------------------------------------------------------------

def _runner(args: argparse.Namespace):
    from stsm_edge.errors import InputError
    from stsm_edge.runner import FrameBufferRunner
    from stsm_edge.smoothing import SmoothingConfig
    from stsm_edge.timebase import step_from_ms

    if args.default == bool(args.model):
        raise InputError("give exactly one of --model ARTIFACT or --default")
    try:
        smoothing = SmoothingConfig(args.smooth_window, args.vote, args.min_hold, args.threshold)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    step_seconds = None if args.step_ms is None else step_from_ms(args.step_ms).seconds
    return FrameBufferRunner.open("default" if args.default else args.model, threads=args.threads,
                                  smoothing=smoothing, top_k=3, stride=args.stride, step_seconds=step_seconds,
                                  pacing=not args.no_pacing)


def _add_runner_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="artifact (.pte/.tflite/.onnx/.mlpackage) or stsm-edge checkpoint (.pt)")
    p.add_argument("--default", action="store_true", help="the default model, eager")
    p.add_argument("--threads", type=int, help="runtime threads (default: the runtime's choice)")
    p.add_argument("--stride", type=int, default=1, help="clip models: run a clip every N model steps")
    p.add_argument("--step-ms", type=float, help="model time step (default: the one the model records)")
    p.add_argument("--no-pacing", action="store_true",
                   help="one model step per frame, whatever the frame rate (the model then sees motion at the wrong speed)")
    p.add_argument("--smooth-window", type=int, default=12, help="average the last N logits")
    p.add_argument("--vote", type=int, default=1, help="majority vote over the last N top-1s (1 = off)")
    p.add_argument("--min-hold", type=int, default=2, help="hysteresis: frames a label is held before it can change")
    p.add_argument("--threshold", type=float, default=0.0, help="below this probability say 'no action'")


def cmd_run(args: argparse.Namespace) -> int:
    from stsm_edge.recognize import label_timeline, recognize_video, write_predictions

    runner = _runner(args)
    report = recognize_video(runner, Path(args.video), Path(args.out) if args.out else None, args.max_frames,
                             progress=not args.quiet)
    if args.predictions:
        write_predictions(Path(args.predictions), report.predictions)
    print(f"{report.frames} frames ({report.seconds:.1f} s of video), {runner.form} form on {runner.runtime.format}")
    print(f"model time step {runner.time_step.describe()}" if runner.pacing else
          "pacing off: one model step per frame")
    print(f"{report.model_steps} model steps = {report.steps_per_second:.1f} steps/s x {report.mean_model_ms:.2f} ms "
          f"per step = {report.core_share:.1%} of one core")
    print("label timeline:")
    for first, last, in label_timeline(report.predictions):
        print(f"  frames {first.frame_index:5d}-{last.frame_index:<5d} {first.timestamp:6.2f}-{last.timestamp:<6.2f} s  "
              f"{first.label}")
    if args.compare_window:
        _compare_window(args, runner, report)
    if args.out:
        print(f"annotated video: {args.out}")
    return 0


def _compare_window(args: argparse.Namespace, stream_runner, stream_report) -> None:
    """The same video through the clip (windowed) form at the same pace: one T-step clip pass per model step."""
    from stsm_edge.errors import InputError
    from stsm_edge.recognize import recognize_video
    from stsm_edge.runner import FrameBufferRunner

    pace = {"step_seconds": stream_runner.time_step.seconds, "pacing": stream_runner.pacing}
    if args.default:
        from stsm_edge.defaults import default_model
        from stsm_edge.runtimes.torch import TorchRuntime

        window = FrameBufferRunner(TorchRuntime(Path("default"), bundle=default_model(), form="clip",
                                                threads=args.threads), **pace)
    else:
        path = Path(args.window_model or str(args.model).replace("_stream_", "_clip_"))
        if not path.exists():
            raise InputError(f"--compare-window needs the clip artifact: {path} not found (pass --window-model)")
        window = FrameBufferRunner.open(path, threads=args.threads, **pace)
    report = recognize_video(window, Path(args.video), None, args.max_frames, progress=not args.quiet)
    stream_ms, clip_ms = stream_report.mean_model_ms, report.mean_model_ms
    print(f"windowed clip baseline (T = {window.n_segments}, a clip per model step): {clip_ms:.2f} ms/step; "
          f"streaming {stream_ms:.2f} ms/step = {stream_ms / clip_ms:.3f} of it (1/T = {1 / window.n_segments:.3f})")


def cmd_webcam(args: argparse.Namespace) -> int:
    from stsm_edge.webcam import run_webcam

    runner = _runner(args)
    summary = run_webcam(runner, camera=args.camera, source=args.source, headless=args.headless,
                         record=Path(args.record) if args.record else None, max_frames=args.max_frames)
    print(f"{summary['frames']} frames in {summary['seconds']:.1f}s ({summary['fps']:.1f} FPS), "
          f"{summary['dropped']} stale frames dropped" + (f"; recorded {summary['record']}" if summary["record"] else ""))
    return 0


# ---- benchmarks ----------------------------------------------------------------------------------

def cmd_bench(argv: Sequence[str]) -> int:
    """`stsm-edge bench [run|report|validate|android] ...`: the harness in benchmarks/, which parses its own options."""
    from benchmarks.__main__ import main as bench_main

    return bench_main(list(argv))


class _Progress:
    """A (done, total) callback drawing a tqdm bar, created on the first update so an early error prints alone."""

    def __init__(self, desc: str, unit: str, quiet: bool) -> None:
        self.desc, self.unit, self.quiet, self.bar = desc, unit, quiet, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, disable=self.quiet)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ---- data, training, evaluation ------------------------------------------------------------------

def cmd_make_motion_data(args: argparse.Namespace) -> int:
    from stsm_edge.data.motion import MOTION_CLASSES, MotionSpec, make_motion_data, split_sizes

    progress = _Progress("rendering clips", "clip", args.quiet)
    spec = MotionSpec(size=args.size, frames=args.frames, render_fps=args.fps)
    out = make_motion_data(Path(args.out), args.seed, args.clips_per_class, spec, progress, tuple(args.splits))
    progress.close()
    sizes = split_sizes(args.clips_per_class)
    listed = ", ".join(f"{split}.txt ({sizes[split] * len(MOTION_CLASSES)} clips)" for split in args.splits)
    print(f"wrote {out}: {listed}, labels.txt")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from stsm_edge.train import TrainConfig, train

    flip_pairs = tuple(tuple(pair.split(":", 1)) for pair in args.flip_pair) if args.flip_pair else None
    config = TrainConfig(data=args.data, out=args.out, method=args.method, dims=args.dims, fold_div=args.fold_div,
                         causal=args.causal,
                         n_segments=args.segments, backbone=args.backbone, size=args.size, pretrained=args.pretrained,
                         epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, schedule=args.schedule,
                         lr_steps=tuple(args.lr_steps), dropout=args.dropout, workers=args.workers, seed=args.seed,
                         flip_pairs=flip_pairs, max_steps_per_epoch=args.max_steps, sampling=args.sampling,
                         dense_stride=args.dense_stride, step_ms=args.step_ms)
    best = train(config, resume=args.resume)
    print(f"best checkpoint: {best}")
    return 0


def cmd_distill(args: argparse.Namespace) -> int:
    from stsm_edge.distill import DistillConfig, distill

    config = DistillConfig(teacher=args.teacher, videos=args.videos, out=args.out, method=args.student_preset,
                           dims=args.dims, fold_div=args.fold_div, causal=args.causal, temperature=args.temperature,
                           label_weight=args.label_weight, val=args.val, epochs=args.epochs, batch_size=args.batch_size,
                           lr=args.lr, workers=args.workers, seed=args.seed, step_ms=args.step_ms,
                           max_steps_per_epoch=args.max_steps, teacher_method=args.method,
                           teacher_segments=args.segments, teacher_layout=args.layout, labels=args.labels)
    best = distill(config, resume=args.resume)
    print(f"best checkpoint: {best}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from stsm_edge.evaluate import evaluate, evaluate_played, plot_confusion
    from stsm_edge.runner import FrameBufferRunner
    from stsm_edge.runtimes.torch import TorchRuntime
    from stsm_edge.timebase import step_from_ms

    if sum(map(bool, (args.default, args.checkpoint, args.model))) != 1:
        from stsm_edge.errors import InputError

        raise InputError("give exactly one of --default, --checkpoint PATH or --model ARTIFACT")
    if args.play_fps is not None and args.play_fps <= 0:
        from stsm_edge.errors import InputError

        raise InputError(f"--play-fps must be > 0, got {args.play_fps:g}")
    step_seconds = None if args.step_ms is None else step_from_ms(args.step_ms).seconds
    if args.model:
        from stsm_edge.runtimes.base import open_runtime

        runtime, name = open_runtime(Path(args.model), threads=args.threads), Path(args.model).name
    else:
        bundle = _load_model(args)
        runtime, name = TorchRuntime(Path(bundle.source["checkpoint"]), bundle=bundle, threads=args.threads), \
            bundle.source["checkpoint"]
    progress = _Progress("evaluating", "clip", args.quiet)
    if args.play_fps is None:
        result = evaluate(runtime, Path(args.data), args.limit, progress)
        how = "segment-sampled clips"
    else:
        runner = FrameBufferRunner(runtime, top_k=5, step_seconds=step_seconds, pacing=not args.no_pacing)
        result = evaluate_played(runner, Path(args.data), args.play_fps, args.limit, progress)
        how = (f"played at {args.play_fps:g} fps through the runner, "
               + (f"paced at {runner.time_step.describe()}" if runner.pacing else "pacing off (a step per frame)"))
    progress.close()
    print(f"{name} ({runtime.format}, {runtime.form}) on {Path(args.data).name}: {result.count} clips, {how}")
    print(f"top-1: {result.top1:.2%}")
    print(f"top-5: {result.top5:.2%}")
    if args.confusion:
        print(f"confusion matrix: {plot_confusion(result, Path(args.confusion), name)}")
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    from stsm_edge.weights import pack_checkpoint

    note = {"command": args.command} if args.command else None
    path = pack_checkpoint(Path(args.checkpoint), Path(args.out), note)
    print(f"{path}: {_human_bytes(path.stat().st_size)}")
    return 0


# ---- the main job --------------------------------------------------------------------------------

def cmd_demo(args: argparse.Namespace) -> int:
    """README's first command: the toolkit end to end on the default model.

    The shift's cost, a real ImageNet prediction through STSM, the default model's accuracy on motion
    benchmark test clips, an int8 export to every target (verified in each runtime) with each artifact's
    accuracy on the same clips, and a real video streamed through the int8 .pte with its label timeline.
    """
    from stsm_edge.defaults import default_model

    bundle = default_model()
    size = bundle.preprocess.size[0]
    code = cmd_info(build_parser().parse_args(["info", "--method", "stsm_causal", "--size", str(size)]))
    print()
    code |= cmd_classify(argparse.Namespace(image=None))
    if args.skip_export:
        return code
    out = Path(args.out)
    motion = out / "motion"
    if not (motion / "test.txt").exists():
        print(f"\nrendering motion benchmark clips into {motion} (seed 0: the default model's own test clips)")
        cmd_make_motion_data(argparse.Namespace(out=str(motion), seed=0, clips_per_class=args.clips_per_class,
                                                size=128, frames=16, fps=None, splits=SPLITS, quiet=True))
    print("\nexporting the default model to every target in int8 (calibrated on motion train clips, "
          "verified on val clips)")
    if cmd_export(build_parser().parse_args(
            ["export", "--default", "--target", "all", "--precision", "int8", "--form", "both",
             "--calib", str(motion / "train.txt"), "--calib-frames", "288", "--verify", str(motion / "val.txt"),
             "--verify-frames", "144", "--out", str(out)])):
        # Not fatal here: the table shows which artifacts missed their parity bar; `export` alone exits 1.
        print("note: some artifacts failed or missed their parity criterion (see the table; sidecars hold the figures)")
    print(f"\naccuracy on {motion / 'test.txt'}: eager fp32 and each int8 streaming artifact in its runtime")
    _accuracy_table(bundle, motion / "test.txt",
                    sorted(p for p in out.glob("*_stream_int8.*") if p.suffix != ".json"))
    video = args.video or str(_asset_video(DEFAULT_VERIFY_VIDEO))
    print(f"\nstreaming {Path(video).name} through the int8 ExecuTorch model")
    code |= cmd_run(build_parser().parse_args(
        ["run", video, "--model", str(out / "mobilenet_v2_stream_int8.pte"), "--compare-window",
         "--predictions", str(out / "predictions.csv"), "--quiet"]))
    return code


def _accuracy_table(bundle, annotation_list: Path, artifacts: list[Path]) -> None:
    from stsm_edge.evaluate import evaluate
    from stsm_edge.runtimes.base import open_runtime
    from stsm_edge.runtimes.torch import TorchRuntime

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
    print_table(["model", "precision", f"top-1 ({fp32.count} clips)", "vs fp32 (points)"], rows)
    for reason in not_run:
        print(f"not run here: {reason}")


def _asset_video(name: str) -> Path:
    from stsm_edge.assets import video_path

    return video_path(name)


# ---- parser --------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other error a user can cause (subcommands inherit this class)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stsm-edge", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="params, FLOPs and streaming state of STSM vs the plain backbone")
    p.add_argument("--backbone", default="mobilenet_v2", choices=["mobilenet_v2", "resnet50"])
    p.add_argument("--segments", type=int, default=8)
    _add_shift_options(p, "stsm")
    p.add_argument("--width-mult", type=float, default=1.0)
    p.add_argument("--size", type=int, default=224)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("fetch-assets", help="fetch offline weights, videos and labels into the cache")
    p.set_defaults(func=cmd_fetch_assets)

    p = sub.add_parser("classify", help="ImageNet top-5 of an image (default: scikit-image's coffee)")
    p.add_argument("image", nargs="?")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("export", help="convert a model for a target, verify it, write artifact + sidecar")
    p.add_argument("--checkpoint")
    p.add_argument("--default", action="store_true", help="the default model (motion benchmark, 112x112)")
    p.add_argument("--imagenet", action="store_true",
                   help="STSM-MobileNetV2 with the ImageNet weights and 1000 labels (224x224)")
    p.add_argument("--target", default="all", choices=["executorch", "coreml", "tflite", "onnx", "all"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8", "int8w"])
    p.add_argument("--form", default="both", choices=["clip", "stream", "both"])
    p.add_argument("--calib", help="video file or image folder for int8 calibration (default: box.mp4)")
    p.add_argument("--calib-frames", type=int, default=96)
    p.add_argument("--calib-stride", type=int, default=2)
    p.add_argument("--verify", help="held-out video for the parity check (default: cup.mp4)")
    p.add_argument("--verify-frames", type=int, default=120)
    p.add_argument("--size", type=int, help="input size (default: the model's own)")
    p.add_argument("--step-ms", type=float,
                   help="the model's time step to record (default: the checkpoint's, measured in training)")
    _add_checkpoint_options(p)
    p.add_argument("--out", default="out")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("run", help="recognise actions in a video, frame by frame")
    p.add_argument("video")
    _add_runner_options(p)
    p.add_argument("--out", help="write an annotated video (mp4)")
    p.add_argument("--predictions", help="write per-frame predictions (.csv or .json)")
    p.add_argument("--max-frames", type=int)
    p.add_argument("--compare-window", action="store_true",
                   help="also run the windowed clip baseline and print the per-frame cost ratio")
    p.add_argument("--window-model", help="clip artifact for --compare-window (default: the _stream_ -> _clip_ sibling)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("webcam", help="live recognition from a camera, a stream URL or a video file")
    _add_runner_options(p)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, default=None, help="camera index (default 0)")
    source.add_argument("--source", help="video file or stream URL instead of a camera")
    p.add_argument("--headless", action="store_true", help="no window; needs --record")
    p.add_argument("--record", help="write the annotated stream to an mp4")
    p.add_argument("--max-frames", type=int)
    p.set_defaults(func=cmd_webcam)

    p = sub.add_parser("bench", help="latency benchmarks: run, report, validate, android (see benchmarks/README.md)",
                       add_help=False)
    p.add_argument("bench_args", nargs=argparse.REMAINDER)

    p = sub.add_parser("make-motion-data", help="render the temporal-reasoning motion benchmark (train/val/test)")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clips-per-class", type=int, default=100, help="train clips per class (val/test get a quarter)")
    p.add_argument("--size", type=int, default=128, help="frame side in pixels")
    p.add_argument("--frames", type=int, default=16, help="frames per clip at 12 fps (the motion's own rate)")
    p.add_argument("--fps", type=float,
                   help="render the same clips at this frame rate (default 12): same trajectories, same seconds")
    p.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS, help="which splits to render")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_make_motion_data)

    p = sub.add_parser("train", help="fine-tune TSN / TSM / STSM on an annotated clip folder (torchrun for DDP)")
    p.add_argument("--data", required=True, help="folder with train.txt, labels.txt and optionally val.txt")
    p.add_argument("--out", required=True, help="run folder: log.jsonl, last.pt, best.pt")
    _add_shift_options(p, "stsm_causal")
    p.add_argument("--segments", type=int, default=8)
    p.add_argument("--backbone", default="mobilenet_v2", choices=["mobilenet_v2", "resnet50"])
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--pretrained", default="imagenet", help="imagenet, none, or a checkpoint path")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=0.005, help="base learning rate for --batch-size 8")
    p.add_argument("--schedule", default="cosine", choices=["cosine", "step"])
    p.add_argument("--lr-steps", type=int, nargs="+", default=[5, 7], help="epochs of x0.1 decay (step schedule)")
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--flip-pair", action="append", metavar="A:B",
                   help="labels a horizontal flip swaps (repeat; default: the data folder's meta.json)")
    p.add_argument("--sampling", default="segment", choices=["segment", "dense"],
                   help="which frames a clip gives: T segments (TSN) or every --dense-stride-th frame")
    p.add_argument("--dense-stride", type=int, default=2)
    p.add_argument("--step-ms", type=float,
                   help="sample frames this many ms apart by timestamp (any clip length or fps gives the same step); "
                        "for streaming models, whose time step is then exact")
    p.add_argument("--max-steps", type=int, help="stop each epoch after this many steps (smoke runs)")
    p.add_argument("--resume", help="continue from a run's last.pt")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("distill", help="a student with another shift (e.g. causal) from a teacher, on unlabelled video")
    p.add_argument("--teacher", required=True,
                   help="a checkpoint: stsm-edge, MMAction2, TSM or torchvision (the student starts from its weights)")
    _add_checkpoint_options(p, "--teacher")
    p.add_argument("--videos", required=True,
                   help="a folder of videos, or an annotation list (its labels are not read unless --label-weight > 0)")
    p.add_argument("--out", required=True, help="run folder: log.jsonl, last.pt, best.pt")
    p.add_argument("--student-preset", default="stsm_causal", choices=METHODS,
                   help="the student's shift (stsm_edge.shift.PRESETS), or custom with --dims/--fold-div/--causal")
    p.add_argument("--dims")
    p.add_argument("--fold-div", type=int)
    p.add_argument("--causal", action="store_true", default=None)
    p.add_argument("--temperature", type=float, default=4.0, help="softens both distributions (loss scaled by T^2)")
    p.add_argument("--label-weight", type=float, default=0.0,
                   help="weight of cross-entropy on the list's labels (0: labels never read)")
    p.add_argument("--val", help="a labelled list: its top-1 after each epoch picks best.pt")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-4, help="small: the student starts at the teacher's optimum")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--step-ms", type=float, help="fixed-step sampling, as for train")
    p.add_argument("--max-steps", type=int, help="stop each epoch after this many steps (smoke runs)")
    p.add_argument("--resume", help="continue from a run's last.pt")
    p.set_defaults(func=cmd_distill)

    p = sub.add_parser("eval", help="top-1/top-5 and a confusion matrix of a checkpoint or artifact on a clip list")
    p.add_argument("--default", action="store_true", help="the default model")
    p.add_argument("--checkpoint")
    p.add_argument("--model", help="an exported artifact (.pte, .tflite, .onnx), clip or streaming")
    _add_checkpoint_options(p)
    p.add_argument("--data", required=True, help="annotation list (`path label` or `path num_frames label`)")
    p.add_argument("--confusion", help="write the confusion matrix PNG here")
    p.add_argument("--limit", type=int, help="only the first N clips")
    p.add_argument("--play-fps", type=float,
                   help="evaluate as deployed: play each clip through the runner as a live stream at N fps "
                        "(resampled by timestamp) and score the label shown at its end")
    p.add_argument("--step-ms", type=float, help="with --play-fps: pace at this time step (default: the model's)")
    p.add_argument("--no-pacing", action="store_true", help="with --play-fps: one model step per frame (a control)")
    p.add_argument("--threads", type=int)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("pack", help="store a checkpoint's weights in fp16 without optimizer state, for shipping")
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True)
    p.add_argument("--command", help="the command that made the checkpoint, recorded inside it")
    p.set_defaults(func=cmd_pack)

    p = sub.add_parser("demo", help="the main job: info, a real prediction, int8 export to every target, streaming")
    p.add_argument("--out", default="out", help="where the artifacts go")
    p.add_argument("--video", help="video to stream at the end (default: cup.mp4)")
    p.add_argument("--skip-export", action="store_true", help="only the info and the prediction")
    p.add_argument("--clips-per-class", type=int, default=20, help="motion clips rendered for calibration and eval")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        return cmd_bench(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    if not args.verbose:  # OpenCV's own warnings (a missing camera, an unreadable path) repeat our one-line errors
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        return args.func(args)
    except StsmEdgeError as exc:
        if args.verbose:
            raise
        print(f"stsm-edge: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stsm-edge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
