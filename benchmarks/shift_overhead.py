"""Per-frame cost of the streaming shift in int8, per target: STSM stream form vs plain MobileNetV2.

For every target whose converter and runtime work here, exports an int8 stream artifact of MobileNetV2 per
variant (random weights: timing does not depend on them; calibration uses real frames):

  plain       no shift at all (dims=""), one input, one output;
  training    causal STSM with the shift as written for training (slices + zero pad + cat);
  deploy      causal STSM in its deploy variant (stsm_edge.converters.deploy), with the converter's default
              state I/O (TFLite: channels-last int8 states, each input quantized like its output);
  nchw-float  deploy with the state I/O shipped before (NCHW; TFLite's state inputs quantized apart from their
              float outputs, so a runner requantizes them between steps). A target whose converter has no
              such options skips it.

then times them interleaved: each round runs every artifact `--k` times, in an order that rotates from round to
round, so load changes hit all of them alike. Each artifact is called through its runtime's own API on inputs in
the artifact's own types (`Runtime.model_call`: the adapter's conversions are not in the figures; states are
carried in the artifact's dtype and layout). Prints, per variant and clock (wall time; at 1 thread also the calling
thread's CPU time, steadier on a shared machine), the median ms and the median of the per-round ratios variant /
plain with their min-max. Each converter's default (`shift_form`, TFLite's `state_layout` and
`state_quantization`) is the variant this script measured faster on it.

What it measured, and the other variants tried, are in benchmarks/results/shift_overhead_notes.md.

    python -m stsm_edge.benchmarks.shift_overhead [--size 224] [--width-mult 1.0] [--rounds 30] [--k 15]
        [--targets tflite] [--variants plain,deploy,nchw-float] [--threads 1] [--work DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from stsm_edge.options import WORK, BenchFlags, ModelFlags, RunnerFlags, add_flag

STSM = {"dims": "THW", "causal": True}
VARIANTS = {  # name -> (model kwargs, converter options)
    "plain": ({"dims": ""}, {}),
    "training": (STSM, {"shift_form": "training"}),
    "deploy": (STSM, {"shift_form": "deploy"}),
    "nchw-float": (STSM, {"shift_form": "deploy", "state_layout": "nchw", "state_quantization": "separate"}),
}


def export_variants(target: str, names: list[str], size: int, width: float, frames: list[np.ndarray], out: Path,
                    threads: int) -> dict:
    """name -> (a call of its int8 stream artifact on a real frame and initial states, size in bytes); a variant
    whose options the target does not take is left out, with a line saying so. An artifact already in `out` (with
    its sidecar) is reused, so the exports can run apart from the timing."""
    from stsm_edge.converters.base import artifact_size, export_artifact, get_converter

    from stsm_edge.errors import OptionError
    from stsm_edge.models import stsm_mobilenet_v2
    from stsm_edge.preprocess import PreprocessSpec
    from stsm_edge.runtimes.base import open_runtime
    from stsm_edge.sidecar import sidecar_path

    spec = PreprocessSpec.for_size(size, size)
    built = {}
    for name in names:
        model_kwargs, options = VARIANTS[name]
        try:
            get_converter(target).options(options)
        except OptionError as exc:
            print(f"{target}: {name} skipped ({exc})")
            continue
        path = out / target / name / f"{name}{get_converter(target).suffix}"
        if not sidecar_path(path).exists():
            model = stsm_mobilenet_v2(num_classes=400, n_segments=8, width_mult=width, **model_kwargs).eval()
            export_artifact(model, target, "stream", "int8", path.parent, calibration_frames=frames,
                            verification_frames=frames[:8], labels=[str(i) for i in range(400)], preprocess=spec,
                            options=options, name=name)
        runtime = open_runtime(path, threads=threads)
        built[name] = (runtime.model_call([frames[0][None], *runtime.initial_states()]), artifact_size(path))
    return built


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


def time_interleaved(calls: dict, rounds: int, repeats: int) -> dict[str, dict[str, list[float]]]:
    """Per clock and round, the median ms of `repeats` calls of each, in an order rotating by one each round. Two
    clocks: wall time, and this thread's CPU time, which at 1 thread (the runtime computes in the calling thread)
    leaves out the time other processes held the core, so it stays readable on a loaded machine."""
    for call in calls.values():
        for _ in range(5):
            call()
    names = list(calls)
    times: dict[str, dict[str, list[float]]] = {clock: {name: [] for name in names} for clock in CLOCKS}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            runs: dict[str, list[float]] = {clock: [] for clock in CLOCKS}
            for _ in range(repeats):
                start = {clock: read() for clock, read in CLOCKS.items()}
                calls[name]()
                for clock, read in CLOCKS.items():
                    runs[clock].append((read() - start[clock]) * 1e3)
            for clock in CLOCKS:
                times[clock][name].append(statistics.median(runs[clock]))
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_flag(parser, ModelFlags.size, type=int, default=224)
    add_flag(parser, ModelFlags.width_mult, type=float, default=1.0)
    add_flag(parser, BenchFlags.rounds, type=int, default=30)
    add_flag(parser, BenchFlags.repeats, type=int, default=15)
    add_flag(parser, BenchFlags.targets, default="executorch,tflite,onnx")
    add_flag(parser, BenchFlags.variants, default="plain,training,deploy,nchw-float")
    add_flag(parser, RunnerFlags.threads, type=int, default=1)
    add_flag(parser, WORK, type=Path, default=None,
             help="keep the artifacts here and reuse them (per target and variant; delete it after changing the "
                  "converters); --rounds 0 only exports, so the timing can run apart, under a lock")
    args = parser.parse_args(argv)
    names = args.variants.split(",")
    unknown = [name for name in names if name not in VARIANTS]
    if unknown or "plain" not in names:
        parser.error(f"--variants: {'unknown ' + unknown[0] if unknown else 'plain is what the others are timed against'}"
                     f"; choose from {', '.join(VARIANTS)}")

    from stsm_edge.assets import video_path
    from stsm_edge.errors import StsmEdgeError
    from stsm_edge.preprocess import PreprocessSpec, preprocess
    from stsm_edge.video import iter_video

    spec = PreprocessSpec.for_size(args.size, args.size)
    frames = [preprocess(f, spec) for f in iter_video(video_path("vtest.avi"), max_frames=16, stride=4)]
    for target in args.targets.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                built = export_variants(target, names, args.size, args.width_mult, frames, args.work or Path(tmp),
                                        args.threads)
            except StsmEdgeError as exc:
                print(f"{target}: skipped ({exc})")
                continue
            if not args.rounds:
                print(f"{target}: exported {', '.join(built)} to {args.work}")
                continue
            times = time_interleaved({name: call for name, (call, _) in built.items()}, args.rounds, args.k)
        sizes = ", ".join(f"{name} {size / 1e6:.2f} MB" for name, (_, size) in built.items())
        print(f"{target} int8 stream, {args.size}x{args.size}, width {args.width_mult}, {args.threads} thread(s), "
              f"{args.rounds} rounds x {args.k} ({sizes})")
        for clock, per_variant in times.items():
            if clock == "cpu" and args.threads != 1:
                continue  # other threads' work is not this thread's CPU time
            for name, ms in per_variant.items():
                ratios = [t / p for t, p in zip(ms, per_variant["plain"])]
                print(f"  {clock:4s} {name:10s} {statistics.median(ms):7.3f} ms  / plain "
                      f"x{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})")
            if "deploy" in per_variant and "nchw-float" in per_variant:  # the state I/O shipped before / the default
                ratios = [a / b for a, b in zip(per_variant["nchw-float"], per_variant["deploy"])]
                print(f"  {clock:4s} nchw-float / deploy x{statistics.median(ratios):.3f} "
                      f"({min(ratios):.3f}-{max(ratios):.3f})")

if __name__ == "__main__":
    main()
