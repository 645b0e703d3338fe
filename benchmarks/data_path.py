"""The training data path, one process: how fast each way of reading a clip runs, and what a whole item costs.

A loader worker reads each training clip whole, samples T frames, augments and preprocesses them. On a GPU host the
workers, not the GPU, set the pace at 112², so this times the options for the first step, interleaved (every option
once per round, in rotating order, so a change of load hits them alike), on motion-benchmark clips:

  opencv before    OpenCV with FFmpeg's default decoding threads, the clip opened twice (frames, then the frame
                   rate): how the loader read clips before
  opencv           OpenCV, one decoding thread, one open (`data.sources.read_clip`: the loader's reader)
  frame cache      the decoded-frame cache (`--frame-cache`), as every epoch after the first reads it
  pyav             PyAV, one thread, where it is installed (it is not a dependency)
  item decoded     a whole training item (`VideoClipDataset[i]`): read, sample, augment, preprocess
  item cached      the same, reading from the decoded-frame cache

Reported: clips/s per process (median over rounds, min–max) and each option's speed over `opencv before` (the
median of the rounds' ratios).

    python -m stsm_edge.benchmarks.data_path [--rounds 20] [--size 112]

Writes data_path.json and data_path.md to --results-dir (benchmarks/results).
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

from stsm_edge.data.annotations import read_annotations
from stsm_edge.data.augment import ClipAugment
from stsm_edge.data.dataset import VideoClipDataset
from stsm_edge.data.frame_cache import FrameCache
from stsm_edge.data.motion import make_motion_data
from stsm_edge.data.sources import read_clip
from stsm_edge.fileio import atomic_write_text
from stsm_edge.options import WORK, BenchFlags, ModelFlags, add_flag
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.video import read_video, video_info

HERE = Path(__file__).resolve().parent


def readers(records, spec: PreprocessSpec, cache: FrameCache) -> dict:
    """Option name -> a function reading clip i."""
    def before(i):
        frames, _ = read_video(records[i].path)
        return frames, video_info(records[i].path)[0]

    options = {"opencv before": before, "opencv": lambda i: read_clip(records[i].path),
               "frame cache": lambda i: cache.read(records[i].path, records[i].num_frames)}
    try:
        import av

        def pyav(i):
            with av.open(str(records[i].path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "NONE"
                return [frame.to_ndarray(format="bgr24") for frame in container.decode(stream)]

        options["pyav"] = pyav
    except ImportError:
        pass
    for name, frame_cache in (("item decoded", None), ("item cached", cache)):
        dataset = VideoClipDataset(records, 8, spec, train=True, augment=ClipAugment(), sampling="timed",
                                   step_seconds=1 / 6, frame_cache=frame_cache)
        options[name] = dataset.__getitem__
    return options


def measure(options: dict, clips: int, rounds: int) -> dict[str, list[float]]:
    """clips/s of each option in each round, the options' order rotating from round to round."""
    names = list(options)
    speeds = {name: [] for name in names}
    for round_ in range(rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            started = time.perf_counter()
            for i in range(clips):
                options[name](i)
            speeds[name].append(clips / (time.perf_counter() - started))
    return speeds


def report(results: dict) -> str:
    lines = [f"# The data path, one process ({results['size']}², {results['clips']} motion clips per round, "
             f"{results['rounds']} rounds)", "", "| option | clips/s (median) | min–max | × opencv before |",
             "|---|---:|---:|---:|"]
    for name, row in results["options"].items():
        lines.append(f"| {name} | {row['median']:,.1f} | {row['min']:,.1f}–{row['max']:,.1f} | "
                     f"×{row['vs_before']:.2f} |")
    lines += ["", f"Made with: `{results['command']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flag(parser, BenchFlags.rounds, type=int, default=20)
    add_flag(parser, ModelFlags.size, type=int, default=112)
    add_flag(parser, WORK, type=Path, default=Path("runs/data_path"), help="the rendered clips and their cache")
    add_flag(parser, BenchFlags.results_dir, type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    data = args.work / "motion"
    if not (data / "train.txt").exists():
        make_motion_data(data, seed=0, clips_per_class=4, splits=("train",))
    records = read_annotations(data / "train.txt")
    options = readers(records, PreprocessSpec.for_size(args.size, args.size), FrameCache(args.work / "frame_cache"))
    measure(options, len(records), 1)  # warm-up; fills the cache
    speeds = measure(options, len(records), args.rounds)
    before = speeds["opencv before"]
    results = {"command": shlex.join(["python", "-m", "stsm_edge.benchmarks.data_path", *argv]), "size": args.size,
               "clips": len(records), "rounds": args.rounds,
               "options": {name: {"median": statistics.median(v), "min": min(v), "max": max(v),
                                  "vs_before": statistics.median(a / b for a, b in zip(v, before))}
                           for name, v in speeds.items()}}
    args.results_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.results_dir / "data_path.json", json.dumps(results, indent=1) + "\n")
    atomic_write_text(args.results_dir / "data_path.md", report(results))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
