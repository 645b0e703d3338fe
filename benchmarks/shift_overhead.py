"""Per-frame cost of the streaming shift in int8, per target: STSM stream form vs plain MobileNetV2.

For every target whose converter and runtime work here, exports three int8 stream artifacts of
MobileNetV2 (random weights: timing does not depend on them; calibration uses real frames):

  plain     no shift at all (dims=""), one input, one output;
  training  causal STSM with the shift as written for training (slices + zero pad + cat);
  deploy    causal STSM in its deploy variant (stsm_edge.converters.deploy);

then times them interleaved (one run of each per round, so load changes hit all three alike) and
prints median and minimum ms/frame and the overhead ratios deploy/plain and training/plain. Each
converter's `shift_form` default (converters/base.py) is the variant this script measured faster on it.

What it measured, and the other variants tried, are in benchmarks/results/shift_overhead_notes.md.

    PYTHONPATH=. python benchmarks/shift_overhead.py [--size 224] [--width-mult 1.0] [--rounds 100]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from stsm_edge.converters.base import TARGETS, export_artifact

from stsm_edge.assets import video_path
from stsm_edge.errors import StsmEdgeError
from stsm_edge.models import stsm_mobilenet_v2
from stsm_edge.options import BenchFlags, ModelFlags, add_flag
from stsm_edge.preprocess import PreprocessSpec, preprocess
from stsm_edge.runtimes.base import open_runtime
from stsm_edge.video import iter_video

VARIANTS = {  # name -> (model kwargs, converter options)
    "plain": ({"dims": ""}, {}),
    "training": ({"dims": "THW", "causal": True}, {"shift_form": "training"}),
    "deploy": ({"dims": "THW", "causal": True}, {"shift_form": "deploy"}),
}


def export_variants(target: str, size: int, width: float, frames: list[np.ndarray], out: Path) -> dict:
    """int8 stream artifact of each variant: name -> (runtime, one input tuple)."""
    spec = PreprocessSpec.for_size(size, size)
    built = {}
    for name, (model_kwargs, options) in VARIANTS.items():
        model = stsm_mobilenet_v2(num_classes=400, n_segments=8, width_mult=width, **model_kwargs).eval()
        result = export_artifact(model, target, "stream", "int8", out / name, calibration_frames=frames,
                                 verification_frames=frames[:4], labels=[str(i) for i in range(400)],
                                 preprocess=spec, options=options, name=name)
        runtime = open_runtime(result.path, result.sidecar, threads=1)
        inputs = [frames[0][None]] + [np.zeros(s["shape"], np.float32) for s in result.sidecar["states"]]
        built[name] = (runtime, inputs, result.size_bytes)
    return built


def time_interleaved(built: dict, rounds: int) -> dict[str, list[float]]:
    """ms per run of each artifact, one run of each per round."""
    for runtime, inputs, _ in built.values():
        for _ in range(5):
            runtime.run(inputs)
    times: dict[str, list[float]] = {name: [] for name in built}
    for _ in range(rounds):
        for name, (runtime, inputs, _) in built.items():
            start = time.perf_counter()
            runtime.run(inputs)
            times[name].append((time.perf_counter() - start) * 1e3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_flag(parser, ModelFlags.size, type=int, default=224)
    add_flag(parser, ModelFlags.width_mult, type=float, default=1.0)
    add_flag(parser, BenchFlags.rounds, type=int, default=100)
    add_flag(parser, BenchFlags.targets, default=",".join(t for t in TARGETS if t != "coreml"))
    args = parser.parse_args()
    spec = PreprocessSpec.for_size(args.size, args.size)
    frames = [preprocess(f, spec) for f in iter_video(video_path("vtest.avi"), max_frames=16, stride=4)]
    for target in args.targets.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                built = export_variants(target, args.size, args.width_mult, frames, Path(tmp))
            except StsmEdgeError as exc:
                print(f"{target}: skipped ({exc})")
                continue
            times = time_interleaved(built, args.rounds)
        sizes = ", ".join(f"{name} {built[name][2] / 1e6:.2f} MB" for name in built)
        print(f"{target} int8 stream, {args.size}x{args.size}, width {args.width_mult}, 1 thread ({sizes})")
        # The minimum is the run least disturbed by other processes; the median is the typical run.
        for stat in (statistics.median, min):
            ms = {name: stat(t) for name, t in times.items()}
            ratios = "  ".join(f"{name} {ms[name]:.3f} ms x{ms[name] / ms['plain']:.3f}" for name in ms)
            print(f"  {stat.__name__:6s} {ratios}  deploy/training x{ms['deploy'] / ms['training']:.3f}")


if __name__ == "__main__":
    main()
