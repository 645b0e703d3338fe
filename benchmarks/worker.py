"""What runs inside the benchmark's child processes (one per profile, one per comparison group).

    python -m stsm_edge.benchmarks.worker profile JOB.json OUT.json
    python -m stsm_edge.benchmarks.worker compare JOB.json OUT.json
    python -m stsm_edge.benchmarks.worker runner JOB.json OUT.json

A fresh process per profile gives a clean peak RSS (ru_maxrss of this process only) and clean thread
pools (ExecuTorch's XNNPACK pool is process-wide). Inputs are real preprocessed frames the parent saved
as a .npy; a stream artifact gets them one by one with its states carried from output to input, as a
live runner would; a clip artifact gets sliding T-frame windows of them. Only `Runtime.run` is timed
(it includes the adapter's int8 quantize/dequantize of inputs and outputs, as an app pays it). The
runner job is the exception: it feeds raw decoded video frames, because what it measures is what
`FrameBufferRunner.step` adds to the model call (preprocessing, states, smoothing, top-k).
"""

from __future__ import annotations

import importlib.metadata
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

RUNTIME_DISTRIBUTION = {"executorch": "executorch", "tflite": "ai-edge-litert", "onnx": "onnxruntime",
                        "torch": "torch", "coreml": "coremltools"}


def peak_rss_mb() -> float:
    """This process's peak resident set size.

    Linux: VmHWM of /proc/self/status, the high-water mark of this process's own address space. Not
    ru_maxrss: Linux carries the parent's high-water mark across fork/vfork + exec into the child's
    ru_maxrss, so every child would report at least the parent's peak (the exporting parent's, here).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (2**20 if sys.platform == "darwin" else 2**10), 1)  # bytes on macOS, KiB elsewhere


def runtime_version(fmt: str) -> str | None:
    try:
        return importlib.metadata.version(RUNTIME_DISTRIBUTION.get(fmt, fmt))
    except importlib.metadata.PackageNotFoundError:
        return None


def open_artifact(path: str, form: str, threads: int | None):
    """The runtime adapter for an artifact; eager checkpoints (.pt) open in the requested form."""
    from stsm_edge.runtimes.base import open_runtime

    if Path(path).suffix in (".pt", ".pth"):
        from stsm_edge.runtimes.torch import TorchRuntime

        return TorchRuntime(Path(path), None, threads, form=form)
    return open_runtime(Path(path), threads=threads)


def import_runtime(path: str) -> None:
    """Import the runtime's libraries before measuring the baseline RSS, so load cost is the model's own."""
    from stsm_edge.runtimes.base import runtime_class

    runtime_class(Path(path))


class Feeder:
    """Real inputs for one artifact: stream frames with carried states, or sliding clip windows."""

    def __init__(self, runtime, frames: np.ndarray, form: str, segments: int) -> None:
        self.runtime, self.form, self.index = runtime, form, 0
        if form == "clip":
            count = max(1, min(8, len(frames) - segments + 1))
            self.items = [np.ascontiguousarray(frames[i : i + segments][None]) for i in range(count)]
            self.states: list[np.ndarray] = []
        else:
            self.items = [np.ascontiguousarray(f[None]) for f in frames]
            self.states = runtime.initial_states()  # in the artifact's own layout and dtype

    def step(self) -> float:
        """One timed run; returns milliseconds."""
        item = self.items[self.index % len(self.items)]
        self.index += 1
        inputs = [item, *self.states]
        start = time.perf_counter()
        outputs = self.runtime.run(inputs)
        elapsed = (time.perf_counter() - start) * 1e3
        if self.form == "stream":
            self.states = outputs[1:]
        return elapsed


def profile(job: dict) -> dict:
    frames = np.load(job["frames"])
    import_runtime(job["artifact"])
    baseline = peak_rss_mb()
    start = time.perf_counter()
    runtime = open_artifact(job["artifact"], job["form"], job["threads"] or None)
    load_ms = (time.perf_counter() - start) * 1e3
    feeder = Feeder(runtime, frames, job["form"], job["segments"])
    first_ms = feeder.step()
    for _ in range(job["warmup"]):
        feeder.step()
    times: list[float] = []
    begin = time.perf_counter()
    while len(times) < job["max_iterations"] and (
            len(times) < job["min_iterations"] or time.perf_counter() - begin < job["min_seconds"]):
        times.append(feeder.step())
    return {"times_ms": times, "load_ms": load_ms, "first_ms": first_ms, "peak_rss_mb": peak_rss_mb(),
            "baseline_rss_mb": baseline, "runtime": runtime.format, "runtime_version": runtime_version(runtime.format)}


def compare(job: dict) -> dict:
    """Interleaved timing of a group in one process: per round, K alternating runs of every member."""
    frames = np.load(job["frames"])
    feeders = {}
    for member in job["members"]:
        runtime = open_artifact(member["artifact"], member["form"], job["threads"] or None)
        feeders[member["key"]] = Feeder(runtime, frames, member["form"], job["segments"])
    for feeder in feeders.values():
        for _ in range(job["warmup"]):
            feeder.step()
    medians: dict[str, list[float]] = {key: [] for key in feeders}
    for _ in range(job["rounds"]):
        samples: dict[str, list[float]] = {key: [] for key in feeders}
        for _ in range(job["k"]):
            for key, feeder in feeders.items():
                samples[key].append(feeder.step())
        for key, values in samples.items():
            medians[key].append(float(np.median(values)))
    return {"medians": medians}


def raw_frames(video: str, count: int, width: int, height: int) -> list[np.ndarray]:
    """`count` decoded BGR frames of a bundled video at width x height (resized only if it differs)."""
    import cv2

    from stsm_edge.assets import video_path
    from stsm_edge.video import iter_video

    frames = list(iter_video(video_path(video), max_frames=count))
    return [f if f.shape[:2] == (height, width) else cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA)
            for f in frames]


def runner_overhead(job: dict) -> dict:
    """Per round, K interleaved triples on the same raw frame: `preprocess`, `Runtime.stream` on its output
    (states carried), and `FrameBufferRunner.step` (pacing off: every frame a model step, the case the
    overhead matters for; paced-out frames never preprocess). Per-round medians of each."""
    from stsm_edge.preprocess import preprocess
    from stsm_edge.runner import FrameBufferRunner

    frames = raw_frames(job["video"], job["frames"], job["width"], job["height"])
    runtime = open_artifact(job["artifact"], "stream", job["threads"] or None)
    # A program that keeps its states inside shares them between the two: both feed one stream, which changes its
    # logits, not what a call costs.
    runner = FrameBufferRunner(runtime, pacing=False)
    spec, states, index = runner.preprocess_spec, runtime.initial_states(), 0
    medians: dict[str, list[float]] = {"preprocess": [], "model": [], "step": []}
    for round_index in range(job["rounds"] + 1):  # round 0 warms caches and thread pools, unrecorded
        samples: dict[str, list[float]] = {key: [] for key in medians}
        for _ in range(job["k"] if round_index else job["warmup"]):
            frame = frames[index % len(frames)]
            index += 1
            start = time.perf_counter()
            x = preprocess(frame, spec)[None]
            samples["preprocess"].append((time.perf_counter() - start) * 1e3)
            start = time.perf_counter()
            _, states = runtime.stream([x], states)
            samples["model"].append((time.perf_counter() - start) * 1e3)
            start = time.perf_counter()
            runner.step(frame)
            samples["step"].append((time.perf_counter() - start) * 1e3)
        if round_index:
            for key, values in samples.items():
                medians[key].append(float(np.median(values)))
    return {"medians": medians, "frame_size": [int(frames[0].shape[1]), int(frames[0].shape[0])],
            "runtime_version": runtime_version(runtime.format)}


JOBS = {"profile": profile, "compare": compare, "runner": runner_overhead}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] not in JOBS:
        print(f"usage: python -m stsm_edge.benchmarks.worker {'|'.join(JOBS)} JOB.json OUT.json", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[1]).read_text())
    result = JOBS[argv[0]](job)
    Path(argv[2]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
