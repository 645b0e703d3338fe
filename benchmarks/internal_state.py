"""Per-frame cost of keeping the stream's states inside the ExecuTorch program, against carrying them.

Exports MobileNetV2 STSM (causal, random weights: timing does not depend on them; int8 calibrated on real
frames) as an ExecuTorch stream twice per precision:

  explicit  frame + 10 state inputs -> logits + 10 new states, carried by the caller (the adapter's float I/O);
  internal  frame -> logits, the states in mutable buffers written back after the delegate call;

then, for each thread count, times them interleaved (per round one call of each, states carried where they
are explicit) through the runtime adapter, as the runner calls them, and prints the median of the per-round
ratios internal / explicit with their min-max. Also the cost of a reset: what a new stream costs the internal
program (loading its method again, see stsm_edge/converters/executorch.py) and the explicit one (fresh zero
states), each median and min over rounds.

    python -m stsm_edge.benchmarks.internal_state [--size 224] [--width-mult 1.0] [--rounds 300] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from stsm_edge.converters.base import export_artifact

from stsm_edge.assets import video_path
from stsm_edge.data.sources import preprocessed_frames
from stsm_edge.models import stsm_mobilenet_v2
from stsm_edge.options import BenchFlags, ModelFlags, RunnerFlags, add_flag
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.runtimes.base import open_runtime

STATES = ("explicit", "internal")


def export_pair(precision: str, size: int, width: float, frames: list[np.ndarray], out: Path) -> dict:
    """state location -> artifact path, one model exported both ways."""
    model = stsm_mobilenet_v2(num_classes=400, n_segments=8, causal=True, width_mult=width).eval()
    spec = PreprocessSpec.for_size(size, size)
    return {state: export_artifact(model, "executorch", "stream", precision, out, calibration_frames=frames,
                                   verification_frames=frames[:8], labels=[str(i) for i in range(400)],
                                   preprocess=spec, options={"state": state}, name=f"{precision}_{state}").path
            for state in STATES}


class Stream:
    """One artifact fed real frames in a loop, its states carried when they are explicit."""

    def __init__(self, path: Path, frames: list[np.ndarray], threads: int) -> None:
        self.runtime = open_runtime(path, threads=threads)
        self.frames, self.index = [f[None] for f in frames], 0
        self.states = self.runtime.initial_states()

    def step(self) -> float:
        """ms of one call."""
        frame = self.frames[self.index % len(self.frames)]
        self.index += 1
        start = time.perf_counter()
        _, *self.states = self.runtime.run([frame, *self.states])
        return (time.perf_counter() - start) * 1e3

    def reset(self) -> float:
        """ms to start a new stream."""
        start = time.perf_counter()
        self.runtime.reset()
        self.states = self.runtime.initial_states()
        return (time.perf_counter() - start) * 1e3


def interleaved(streams: dict[str, Stream], rounds: int, warmup: int = 10) -> dict[str, list[float]]:
    """ms per call of each stream, one call of each per round, so load changes hit both alike."""
    for stream in streams.values():
        for _ in range(warmup):
            stream.step()
    times: dict[str, list[float]] = {name: [] for name in streams}
    for _ in range(rounds):
        for name, stream in streams.items():
            times[name].append(stream.step())
    return times


def reset_costs(streams: dict[str, Stream], rounds: int) -> dict[str, list[float]]:
    """ms per reset, each after one frame (so the internal program has state to forget)."""
    costs: dict[str, list[float]] = {name: [] for name in streams}
    for _ in range(rounds):
        for name, stream in streams.items():
            stream.step()
            costs[name].append(stream.reset())
    return costs


def ratio_text(numerator: list[float], denominator: list[float]) -> str:
    ratios = [a / b for a, b in zip(numerator, denominator)]
    return f"x{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_flag(parser, ModelFlags.size, type=int, default=224)
    add_flag(parser, ModelFlags.width_mult, type=float, default=1.0)
    add_flag(parser, BenchFlags.rounds, type=int, default=300)
    parser.add_argument("--reset-rounds", type=int, default=30)
    add_flag(parser, RunnerFlags.threads, default="1,2", help="comma-separated thread counts")
    parser.add_argument("--precisions", default="int8,fp32")
    args = parser.parse_args()
    spec = PreprocessSpec.for_size(args.size, args.size)
    frames = preprocessed_frames(video_path("vtest.avi"), spec, 32, 4)
    with tempfile.TemporaryDirectory() as tmp:
        for precision in args.precisions.split(","):
            paths = export_pair(precision, args.size, args.width_mult, frames, Path(tmp))
            for threads in (int(t) for t in args.threads.split(",")):
                streams = {state: Stream(paths[state], frames, threads) for state in STATES}
                times = interleaved(streams, args.rounds)
                resets = reset_costs(streams, args.reset_rounds)
                ms = {state: statistics.median(t) for state, t in times.items()}
                print(f"executorch {precision} stream, {args.size}x{args.size}, width {args.width_mult}, {threads} thread(s), "
                      f"{args.rounds} rounds: explicit {ms['explicit']:.3f} ms, internal {ms['internal']:.3f} ms, "
                      f"internal/explicit {ratio_text(times['internal'], times['explicit'])}; reset: "
                      + ", ".join(f"{state} {statistics.median(c):.3f} ms (min {min(c):.3f})"
                                  for state, c in resets.items()), flush=True)


if __name__ == "__main__":
    main()
