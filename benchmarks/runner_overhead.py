"""What `FrameBufferRunner.step` adds to the model call, piece by piece, and against an earlier commit's runner.

The benchmark's runner overhead (benchmarks/worker.py `runner`) is step ÷ `Runtime.stream` on raw 640x480 frames of
cup.mp4, 1 thread, pacing off. This program splits the step into pieces that add up to it, each timed alone in the
same rounds: `preprocess`, the model call (`Runtime.stream`, states carried), the two one after the other (what
that adds: each evicts the other's data from the caches), the smoother's update and the two top-k lists
(`Smoother.update`, `_top_k`), and the rest (the step less all of those: the runner's own bookkeeping). With
`--before COMMIT` the runner, smoother and preprocessing of that commit (read with git, loaded beside the current
ones) step the same frames in the same rounds, so a change is measured against what it replaced, interleaved.

    python -m stsm_edge.benchmarks.runner_overhead --artifact A.pte --artifact B.onnx [--before HEAD~1]

Per round, each piece runs K frames in a row, the pieces in an order that rotates from round to round; the median
of each per round; reported as the median over rounds, and each ratio (step ÷ model call, now ÷ before) as the
median and min–max of the per-round ratios; beside them each piece's 10th percentile over all frames.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

from stsm_edge.options import BenchFlags, add_flag

ROOT = Path(__file__).resolve().parents[1]
# The files whose code a step runs besides the runtime adapter, and the module each one is in the package.
STEP_SOURCES = {"stsm_edge.preprocess": "stsm_edge/preprocess.py", "stsm_edge.smoothing": "stsm_edge/smoothing.py",
                "stsm_edge.runner": "stsm_edge/runner.py"}


def load_before(commit: str) -> types.ModuleType:
    """The runner module of `commit`, with that commit's preprocessing and smoother (each file as it was there)."""
    loaded: dict[str, types.ModuleType] = {}
    for name, path in STEP_SOURCES.items():
        try:
            source = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, text=True,
                                    check=True).stdout
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SystemExit(f"error: cannot read {path} at {commit!r} with git: {exc}") from exc
        module = types.ModuleType(f"{name}_before")
        module.__file__ = f"{commit}:{path}"
        sys.modules[module.__name__] = module  # dataclasses look their module up while the class is made
        exec(compile(source, module.__file__, "exec"), module.__dict__)
        # What this file took from the files loaded before it comes from their versions of the same commit.
        for earlier, old in loaded.items():
            current = importlib.import_module(earlier)
            for key, value in list(module.__dict__.items()):
                if getattr(value, "__module__", None) == earlier or value is getattr(current, key, None):
                    if hasattr(old, key):
                        module.__dict__[key] = getattr(old, key)
        loaded[name] = module
    return loaded["stsm_edge.runner"]


# What a piece costs: wall time (what the benchmark reports), or this process's CPU time, which a machine shared
# with other jobs does not inflate while this process waits for a core. For CPU time OpenCV runs on one thread too
# (every runtime here runs on 1 thread): its pool's workers keep spinning after a parallel call, and that CPU
# would be charged to whichever piece runs next.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def measure(artifact: Path, rounds: int, k: int, before: types.ModuleType | None, clock: str = "wall",
            warmup: int = 20) -> dict:
    from stsm_edge.benchmarks.worker import open_artifact, raw_frames

    from stsm_edge.preprocess import preprocess
    from stsm_edge.runner import FrameBufferRunner, _top_k
    from stsm_edge.smoothing import Smoother, softmax

    frames = raw_frames("cup.mp4", 32, 640, 480)
    runtime = open_artifact(str(artifact), "stream", 1)
    runner = FrameBufferRunner(runtime, pacing=False)
    spec, labels, states = runner.preprocess_spec, runner.labels, runtime.initial_states()
    smoother = Smoother(runner.smoother.config)
    old = before.FrameBufferRunner(runtime, pacing=False) if before is not None else None
    x, logits = None, None
    now = CLOCKS[clock]
    if clock == "cpu":
        import cv2

        cv2.setNumThreads(1)

    def run_preprocess(frame):
        nonlocal x
        x = preprocess(frame, spec)[None]

    def run_model(frame):
        nonlocal logits, states
        (logits,), states = runtime.stream([x], states)

    def run_smoothing(frame):
        smoothed = smoother.update(logits)
        _top_k(smoothed.probs, labels, runner.top_k)
        _top_k(softmax(logits), labels, runner.top_k)

    def run_both(frame):
        run_preprocess(frame)
        run_model(frame)

    run_both(frames[0])
    pieces = {"preprocess": run_preprocess, "model": run_model, "preprocess then model": run_both,
              "smoothing and top-k": run_smoothing, "step": runner.step}
    if old is not None:
        pieces["step before"] = old.step
    medians: dict[str, list[float]] = {name: [] for name in pieces}
    every: dict[str, list[float]] = {name: [] for name in pieces}
    order = list(pieces)
    for round_index in range(rounds + 1):  # round 0 warms caches and pools, unrecorded
        # Each piece runs K frames in a row (the model call on the frame preprocessed last, its states carried), so
        # no piece is charged for what the one before it left behind; the pieces' order rotates from round to round.
        for name in order:
            values = []
            for index in range(k if round_index else warmup):
                frame = frames[(round_index * k + index) % len(frames)]
                start = now()
                pieces[name](frame)
                values.append((now() - start) * 1e3)
            if round_index:
                medians[name].append(float(np.median(values)))
                every[name] += values
        order = order[1:] + order[:1]
    # The 10th percentile of every frame's time: on a shared machine, what a piece costs when nothing interrupts it.
    floor = {name: float(np.percentile(values, 10)) for name, values in every.items()}
    return {"artifact": artifact.name, "target": runtime.format, "clock": clock, "medians": medians, "p10": floor}


def spread(values: list[float]) -> str:
    return f"×{statistics.median(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def account(values: dict[str, float]) -> dict[str, float]:
    """The step in pieces that add up to it: the model call and the preprocessing each alone, what running them
    one after the other adds (each evicts the other's data from the caches), the smoother and top-k lists, and the
    runner's own bookkeeping (the step less all of those)."""
    both = values["preprocess then model"]
    return {"model call": values["model"], "preprocess": values["preprocess"],
            "preprocess and model in turn (caches)": both - values["preprocess"] - values["model"],
            "smoothing and top-k": values["smoothing and top-k"],
            "rest of the step": values["step"] - both - values["smoothing and top-k"], "step": values["step"]}


def summary(result: dict) -> list[str]:
    m = result["medians"]
    ms = {name: statistics.median(values) for name, values in m.items()}
    lines = [f"{result['target']} {result['artifact']} ({result['clock']} time): step {ms['step']:.3f} ms, "
             f"step / model call {spread([s / c for s, c in zip(m['step'], m['model'])])}"]
    if "step before" in m:
        lines.append(f"  before: step {ms['step before']:.3f} ms, step / model call "
                     f"{spread([s / c for s, c in zip(m['step before'], m['model'])])}; now / before "
                     f"{spread([a / b for a, b in zip(m['step'], m['step before'])])}")
    lines.append("  piece                                   median ms (of the model call) | 10th percentile")
    low = account(result["p10"])
    for name, value in account(ms).items():
        lines.append(f"  {name:40s} {value:.4f} ({value / ms['model']:.3f}) | {low[name]:.4f} "
                     f"({low[name] / low['model call']:.3f})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_flag(parser, BenchFlags.artifact, action="append", type=Path, required=True)
    parser.add_argument("--before", metavar="COMMIT", help="also time this commit's runner on the same frames")
    add_flag(parser, BenchFlags.rounds, type=int, default=30)
    add_flag(parser, BenchFlags.repeats, type=int, default=20, dest="k")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall time, or this process's CPU time (robust on a shared machine)")
    args = parser.parse_args(argv)
    before = load_before(args.before) if args.before else None
    for artifact in args.artifact:
        print("\n".join(summary(measure(artifact, args.rounds, args.k, before, args.clock))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
