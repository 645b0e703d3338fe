"""The paper's claims at small scale: TSN vs TSM vs STSM (bidirectional and causal) on the motion benchmark.

Same data, schedule and seeds for every model; each trained model is evaluated on the test split, and
the causal STSM model of each seed is exported in int8 to ExecuTorch, TFLite and ONNX and evaluated again
through each runtime. Writes `results.json` and `table.md` (mean ± sample std over seeds) to --out.

    python -m benchmarks.fidelity.run --data runs/motion --out benchmarks/fidelity   # about 55 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from stsm_edge.data.motion import MOTION_CLASSES, make_motion_data
from stsm_edge.evaluate import evaluate
from stsm_edge.fileio import atomic_write_text
from stsm_edge.info import model_cost
from stsm_edge.models.tsn import build_model
from stsm_edge.runtimes.base import open_runtime
from stsm_edge.train import TrainConfig, train
from stsm_edge.versions import package_versions

# name -> (shifted dims, causal)
MODELS = {
    "TSN": ("", False),
    "TSM": ("T", False),
    "TSM causal": ("T", True),
    "STSM": ("THW", False),
    "STSM causal": ("THW", True),
}
INT8_TARGETS = {"executorch": ".pte", "tflite": ".tflite", "onnx": ".onnx"}


def export_int8(checkpoint: Path, data: Path, out: Path) -> dict[str, Path]:
    """int8 streaming artifacts of a checkpoint, calibrated on train clips (through the CLI, as a user would).

    A target whose export fails is left out of the table (its error is printed), not fatal to the study.
    """
    artifacts = {}
    for target, suffix in INT8_TARGETS.items():
        subprocess.run([sys.executable, "-m", "stsm_edge", "export", "--checkpoint", str(checkpoint), "--target",
                        target, "--precision", "int8", "--form", "stream", "--calib", str(data / "train.txt"),
                        "--calib-frames", "288", "--verify", str(data / "val.txt"), "--verify-frames", "144",
                        "--out", str(out), "--quiet"], check=False)
        made = sorted(out.glob(f"*{suffix}"))
        if made:
            artifacts[target] = made[0]
    return artifacts


def direction_top1(result) -> float:
    """Top-1 over the clips of the eight direction classes (everything but "no motion")."""
    rows = [result.labels.index(label) for label in MOTION_CLASSES if label != "no motion"]
    return float(sum(result.confusion[i, i] for i in rows) / max(result.confusion[rows].sum(), 1))


def summarise(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else None,
            "runs": values}


def spread(summary: dict) -> str:
    """`mean ± std`, or the mean alone with a note when one seed gives no spread."""
    if summary["std"] is None:
        return f"{summary['mean']:.1%} (1 seed)"
    return f"{summary['mean']:.1%} ± {summary['std']:.1%}"


def run(args: argparse.Namespace) -> dict:
    data = Path(args.data)
    if not (data / "train.txt").exists():
        make_motion_data(data, seed=args.data_seed, clips_per_class=args.clips_per_class)
    runs = Path(args.runs)
    command = "python -m benchmarks.fidelity.run " + shlex.join(sys.argv[1:])
    previous = Path(args.out) / "results.json"
    if args.append and previous.exists():  # more seeds for the same study, run later
        results = json.loads(previous.read_text())
        results["command"] += f" && {command}"
        results["settings"]["seeds"] = sorted(set(results["settings"]["seeds"]) | set(args.seeds))
    else:
        results = {"command": command, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                   "versions": package_versions(), "settings": vars(args), "models": {}}
    for name, (dims, causal) in MODELS.items():
        if (args.only and name not in args.only) or (args.int8_only and name != "STSM causal"):
            continue
        entry = results["models"].setdefault(name, {"dims": dims, "causal": causal, "top1": [], "direction_top1": [],
                                                    "int8_top1": {}})
        for seed in args.seeds:
            config = TrainConfig(data=str(data), out=str(runs / f"{name.replace(' ', '_')}_seed{seed}"), dims=dims,
                                 causal=causal, size=args.size, epochs=args.epochs, lr=args.lr, seed=seed,
                                 workers=args.workers)
            if args.int8_only:
                best = Path(config.out) / "best.pt"
                if not best.exists():
                    raise SystemExit(f"{best}: no trained checkpoint for seed {seed}; train it first")
            else:
                started = time.perf_counter()
                best = train(config)
                result = evaluate(open_runtime(best), data / "test.txt")
                entry["top1"].append(result.top1)
                entry["direction_top1"].append(direction_top1(result))
                print(f"{name} seed {seed}: test top-1 {result.top1:.1%} ({time.perf_counter() - started:.0f} s)")
            if name == "STSM causal" and not args.skip_int8:
                for target, artifact in export_int8(best, data, Path(config.out) / "int8").items():
                    int8 = evaluate(open_runtime(artifact), data / "test.txt").top1
                    entry["int8_top1"].setdefault(target, []).append(int8)
                    print(f"  int8 {target}: test top-1 {int8:.1%}")
        model = build_model(config.model_config(len(MOTION_CLASSES)))
        cost = model_cost(name, model, args.size, args.size)
        entry.update(params=cost.params, gflops=cost.flops / 1e9)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    return results


def table(results: dict) -> str:
    settings = results["settings"]
    lines = [(f"Motion benchmark test split, MobileNetV2 (ImageNet init), T = 8, {settings['size']}², "
              f"{settings['epochs']} epochs, seeds {settings['seeds']}; "
              f"{results['started']} to {results['finished']}."),
             (f"Chance is {1 / len(MOTION_CLASSES):.1%}. Direction top-1: the clips of the eight classes other than "
              "\"no motion\"."), "",
             "| model | shift | params | GFLOPs (clip) | top-1 (mean ± std) | direction top-1 | runs |",
             "|---|---|---|---|---|---|---|"]
    for name, entry in results["models"].items():
        s, d = summarise(entry["top1"]), summarise(entry["direction_top1"])
        shift = (entry["dims"] or "none") + (" causal" if entry["causal"] else "")
        lines.append(f"| {name} | {shift} | {entry['params']:,} | {entry['gflops']:.3f} | "
                     f"{spread(s)} | {spread(d)} | "
                     f"{', '.join(f'{v:.1%}' for v in s['runs'])} |")
    int8 = results["models"].get("STSM causal", {}).get("int8_top1", {})
    if int8:
        fp32 = summarise(results["models"]["STSM causal"]["top1"])["mean"]
        lines += ["", "STSM causal, int8 streaming artifacts evaluated in their runtimes (same test clips):", "",
                  "| target | int8 top-1 (mean ± std) | fp32 − int8 |", "|---|---|---|"]
        for target, values in int8.items():
            s = summarise(values)
            lines.append(f"| {target} | {spread(s)} | {(fp32 - s['mean']) * 100:+.1f} points |")
    lines += ["", f"Command: `{results['command']}`"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="runs/motion", help="motion benchmark folder (made if missing)")
    parser.add_argument("--data-seed", type=int, default=0)
    parser.add_argument("--clips-per-class", type=int, default=300)
    parser.add_argument("--out", default="benchmarks/fidelity", help="where results.json and table.md go")
    parser.add_argument("--runs", default="runs/fidelity", help="training runs and int8 artifacts (not committed)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.005)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--only", nargs="+", choices=list(MODELS), help="train only these models")
    parser.add_argument("--skip-int8", action="store_true")
    parser.add_argument("--append", action="store_true", help="add these seeds to --out's existing results.json")
    parser.add_argument("--int8-only", action="store_true",
                        help="with --append: the int8 rows for STSM causal checkpoints an earlier run trained")
    args = parser.parse_args(argv)
    results = run(args)
    out = Path(args.out)
    atomic_write_text(out / "results.json", json.dumps(results, indent=2) + "\n")
    atomic_write_text(out / "table.md", table(results))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
