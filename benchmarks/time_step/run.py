"""Live accuracy at camera frame rates: the motion test split played through `FrameBufferRunner`.

A streaming model learns one time step; a camera delivers frames at its own rate. This plays every clip of
the motion benchmark's test split (seed 0: the default model's held-out clips) through the runner as a live
stream at each frame rate, the clips rendered at that rate (`make-motion-data --fps`: the same trajectories),
and scores the label the runner shows at each clip's end. Each model runs paced by timestamps (its recorded
time step) and, as a control, with pacing off (one model step per frame: a runner without a time base).
The segment-sampled evaluation (`stsm-edge eval` without `--play-fps`) is the reference row.

    python -m stsm_edge.benchmarks.time_step.run --model default --model out/mobilenet_v2_stream_int8.pte ... \\
        --out benchmarks/time_step

Every (model, fps, pacing) result is written to `results.json` as it finishes and reused by later runs (a
result is redone only if its model file changed), so an interrupted run resumes; `table.md` is rebuilt from
whatever results exist.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from stsm_edge import options
from stsm_edge.data.motion import MotionSpec, make_motion_data
from stsm_edge.fileio import atomic_write_text, file_sha256
from stsm_edge.fit.evaluate import evaluate, evaluate_played
from stsm_edge.options import FPS, MODEL, OUT, WORK, add_flag
from stsm_edge.runner import FrameBufferRunner

SEED, CLIPS_PER_CLASS = 0, 300  # the split the default model was trained on; its test split has 675 clips
FRAME_RATES = (12.0, 24.0, 30.0, 60.0)


def test_split(work: Path, fps: float, clips_per_class: int) -> Path:
    """The motion test split rendered at `fps` (cached)."""
    folder = work / f"motion_seed{SEED}_{clips_per_class}_{fps:g}fps"
    if not (folder / "test.txt").exists():
        make_motion_data(folder, SEED, clips_per_class, MotionSpec(render_fps=fps), splits=("test",))
    return folder / "test.txt"


def resumable_results(out: Path, module: str, argv: list[str] | None) -> tuple[Path, dict, str]:
    """A benchmark's results file in `out` (made if missing), what it already holds, and the command line that
    rebuilds it: the results of earlier runs are kept and only missing ones are run."""
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    return results_path, results, shlex.join(["python", "-m", module, *(argv if argv is not None else sys.argv[1:])])


def model_key(model: str) -> str:
    if model == "default":
        from stsm_edge.defaults import DEFAULT_CHECKPOINT

        return "default:" + file_sha256(DEFAULT_CHECKPOINT)[:16]
    return Path(model).name + ":" + file_sha256(Path(model))[:16]


def measure(model: str, annotation_list: Path, fps: float | None, paced: bool) -> dict:
    runner = FrameBufferRunner.open(model, top_k=5, pacing=paced)
    started = time.perf_counter()
    if fps is None:
        result = evaluate(runner.runtime, annotation_list)
    else:
        result = evaluate_played(runner, annotation_list, fps)
    return {"top1": result.top1, "top5": result.top5, "clips": result.count, "format": runner.runtime.format,
            "time_step_seconds": runner.time_step.seconds, "seconds": round(time.perf_counter() - started, 1)}


def table(results: dict, command: str) -> str:
    models = list(dict.fromkeys(r["model"] for r in results.values()))
    rates = sorted({r["fps"] for r in results.values() if r["fps"] is not None})
    lines = ["# Live accuracy at camera frame rates", "",
             "The motion benchmark's test split (seed 0: the default model's held-out clips, 675) played through "
             "`FrameBufferRunner` as a live stream at each frame rate; top-1 of the label shown at each clip's end. "
             "*paced*: model steps by timestamp at the model's time step; *unpaced*: one model step per frame (the "
             "control). *segment-sampled*: `stsm-edge eval` without `--play-fps` (T frames at segment centres).", "",
             "| model | segment-sampled | " + " | ".join(f"{fps:g} fps paced / unpaced" for fps in rates) + " |",
             "|---|---:|" + "---:|" * len(rates)]
    for model in models:
        def cell(fps, paced):
            row = results.get(f"{model}|{fps}|{paced}")
            return "–" if row is None else f"{row['top1']:.1%}"
        lines.append(f"| {model} | {cell(None, True)} | "
                     + " | ".join(f"{cell(fps, True)} / {cell(fps, False)}" for fps in rates) + " |")
    steps = {r["model"]: r["time_step_seconds"] for r in results.values()}
    lines += ["", "Time steps: " + ", ".join(f"{m} {s * 1e3:.1f} ms" for m, s in steps.items()) + ".", "",
              f"Made with: `{command}`", ""]
    return "\n".join(lines)


def played_models_parser(description: str, out: Path, frame_rates: tuple[float, ...],
                         clips_per_class: int) -> argparse.ArgumentParser:
    """The flags of the benchmarks that play models over rendered test clips (this one and the live one)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flag(parser, MODEL, action="append", required=True,
             help="a streaming artifact or checkpoint, or 'default' (repeatable)")
    add_flag(parser, FPS, type=float, nargs="+", default=list(frame_rates), help="frame rates to play at")
    add_flag(parser, options.CLIPS_PER_CLASS, type=int, default=clips_per_class)
    add_flag(parser, WORK, default="runs", help="where the rendered test splits are cached")
    add_flag(parser, OUT, default=str(out), help="results, table and plot")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = played_models_parser(__doc__, Path(__file__).parent, FRAME_RATES, CLIPS_PER_CLASS).parse_args(argv)
    out = Path(args.out)
    results_path, results, command = resumable_results(out, "stsm_edge.benchmarks.time_step.run", argv)
    cases = [(None, True)] + [(fps, paced) for fps in args.fps for paced in (True, False)]
    for model in args.model:
        key_prefix = model_key(model)
        name = "default model (eager fp32)" if model == "default" else Path(model).name
        for fps, paced in cases:
            key = f"{name}|{fps}|{paced}"
            if results.get(key, {}).get("model_key") == key_prefix:
                continue
            split = test_split(Path(args.work), fps or 12.0, args.clips_per_class)
            row = measure(model, split, fps, paced)
            results[key] = {"model": name, "model_key": key_prefix, "fps": fps, "paced": paced, **row}
            print(f"{name} {'segment-sampled' if fps is None else f'{fps:g} fps'} "
                  f"{'paced' if paced else 'unpaced'}: top-1 {row['top1']:.1%} ({row['seconds']:.0f} s)", flush=True)
            atomic_write_text(results_path, json.dumps(results, indent=1) + "\n")
            atomic_write_text(out / "table.md", table(results, command))
    atomic_write_text(out / "table.md", table(results, command))
    print(f"table: {out / 'table.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
