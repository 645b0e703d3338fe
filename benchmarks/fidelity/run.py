"""The paper's claims at small scale: TSN, TSM and STSM (bidirectional and causal) on the motion benchmark.

Same data (the motion benchmark as shipped), backbone (MobileNetV2, ImageNet init), schedule and seeds for
every model; every shift comes from `stsm_edge.shift.PRESETS` (or, for the alpha ablation, a custom THW shift
resolved by the same function). Each (model, seed) run is evaluated on the test split after every epoch, so
each model has a learning curve; the STSM causal runs are then exported to int8 streaming artifacts and
evaluated in their runtimes.

A study of many runs spans sessions. Each run writes `runs/<run>.json` under --out after every epoch and
trains in its own folder under --work with `last.pt`, so an interrupted run resumes from its last finished
epoch and a finished run is never redone. `table.md`, `curves.png` and `results.json` are rebuilt from
whatever run files exist, each time:

    python -m stsm_edge.benchmarks.fidelity.run                       # everything: 5 models x 3 seeds + 3 ablation runs
                                                            # (about 20 minutes a run on 2 cores)
    python -m stsm_edge.benchmarks.fidelity.run --report-only         # rebuild the table and the plot
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from stsm_edge.converters.export import export_model
from stsm_edge.converters.plan import ExportPlan

from stsm_edge.architectures import ShiftConfig, resolve_shift
from stsm_edge.checkpoints import load_model
from stsm_edge.data.annotations import read_annotations
from stsm_edge.data.dataset import make_loader
from stsm_edge.data.motion import MOTION_CLASSES, make_motion_data
from stsm_edge.fileio import atomic_output, atomic_write_text
from stsm_edge.fit.config import TrainConfig
from stsm_edge.fit.evaluate import evaluate
from stsm_edge.fit.train import train
from stsm_edge.models import build_model
from stsm_edge.models.cost import model_cost
from stsm_edge.options import (
    CLIPS_PER_CLASS,
    DATA,
    OUT,
    STEP_MS,
    WORK,
    DeviceConfig,
    FitFlags,
    ModelFlags,
    add_flag,
    add_options,
    config_from,
)
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.runtimes.base import open_runtime
from stsm_edge.versions import package_versions

HERE = Path(__file__).resolve().parent
INT8_TARGETS = {"executorch": ".pte", "tflite": ".tflite", "onnx": ".onnx"}
# The questions the study is for, each as "a minus b" per seed. A seed fixes the new head's initialisation and the
# order of the training clips, the same for every model, so the differences of one seed pair like with like.
CONTRASTS = (("TSM", "TSN", "does a temporal shift help?"),
             ("STSM", "TSM", "the paper's claim, bidirectional"),
             ("STSM causal", "TSM online", "the paper's claim, online"),
             ("STSM causal", "STSM", "what streaming costs STSM"))
# Two-sided 95% quantiles of Student's t by degrees of freedom (seeds - 1); more seeds than this use the normal's.
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}
PAPER = ("The paper (Kinetics-400, ImageNet-initialised, 8 frames): R-50 STSM 75.0 vs TSM 74.1; MobileNetV2 "
         "STSM 69.9 vs TSM 69.5; its alpha ablation (Table 1) peaks at 3/8.")


@dataclass(frozen=True)
class Study:
    """One row of the study: a name, and the shift it trains (a preset name, or custom settings)."""

    name: str
    method: str
    dims: str | None = None
    fold_div: int | None = None
    causal: bool | None = None

    @property
    def shift(self) -> ShiftConfig:
        return resolve_shift(self.method, self.dims, self.fold_div, self.causal)

    @property
    def slug(self) -> str:
        return self.name.lower().replace(" ", "_").replace("/", "_").replace("=", "")


MODELS = (Study("TSN", "tsn"), Study("TSM", "tsm"), Study("TSM online", "tsm_online"), Study("STSM", "stsm"),
          Study("STSM causal", "stsm_causal"))
# The paper's Table 1 for STSM causal: alpha = 3 / fold_div of the channels move (THW). 3/8 is STSM causal itself.
ABLATION = {"1/8": Study("STSM causal a=1/8", "custom", "THW", 24, True),
            "1/4": Study("STSM causal a=1/4", "custom", "THW", 12, True),
            "3/8": MODELS[-1],
            "3/4": Study("STSM causal a=3/4", "custom", "THW", 4, True)}
ABLATION_RUNS = tuple(study for study in ABLATION.values() if study not in MODELS)  # trained for the ablation alone


def settings_of(args: argparse.Namespace) -> dict:
    """What makes two runs comparable; a run file made with other settings is refused, not mixed in. The device
    is not among them, mixed precision is (and named only when on, so fp32 records made before it still match)."""
    return {"data": str(args.data), "size": args.size, "epochs": args.epochs, "lr": args.lr,
            "batch_size": args.batch_size, "step_ms": args.step_ms, "max_steps": args.max_steps, "segments": 8,
            "backbone": "mobilenet_v2", **({"amp": args.amp} if args.amp != "off" else {})}


def direction_top1(confusion: np.ndarray) -> float:
    """Top-1 over the clips of the eight direction classes (everything but "no motion")."""
    rows = [i for i, label in enumerate(MOTION_CLASSES) if label != "no motion"]
    return float(sum(confusion[i, i] for i in rows) / max(confusion[rows].sum(), 1))


@torch.no_grad()
def test_confusion(model, loader) -> np.ndarray:
    confusion = np.zeros((len(MOTION_CLASSES),) * 2, np.int64)
    device = next(model.parameters()).device  # the run's: after_epoch hands over the model where it trains
    for clips, labels in loader:
        for true, predicted in zip(labels.tolist(), model(clips.to(device)).argmax(1).tolist()):
            confusion[true, predicted] += 1
    return confusion


def run_one(study: Study, seed: int, args: argparse.Namespace, record_path: Path) -> dict:
    """Train (or resume) one run, evaluating the test split after every epoch; the record is saved each epoch."""
    settings = settings_of(args)
    record = json.loads(record_path.read_text()) if record_path.exists() else {
        "name": study.name, "method": study.method, "shift": study.shift.__dict__, "seed": seed,
        "settings": settings, "epochs": [], "status": "running", "versions": package_versions()}
    if record["settings"] != settings:
        raise SystemExit(f"{record_path}: made with other settings ({record['settings']}); use another --out")
    if record["status"] == "done":
        return record
    data = Path(args.data)
    shift = study.shift
    config = TrainConfig(data=str(data), out=str(Path(args.work) / f"{study.slug}_seed{seed}"), method="custom",
                         dims=shift.dims, fold_div=shift.fold_div, causal=shift.causal, size=args.size,
                         epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=seed, workers=args.workers,
                         step_ms=args.step_ms, max_steps_per_epoch=args.max_steps)
    spec = PreprocessSpec.for_size(args.size, args.size)
    test = make_loader(config.dataset(read_annotations(data / "test.txt"), spec, train=False), args.batch_size,
                       shuffle=False, workers=args.workers)
    started = time.perf_counter()

    def after_epoch(epoch: int, model) -> None:
        confusion = test_confusion(model, test)
        log = [json.loads(line) for line in (Path(config.out) / "log.jsonl").read_text().splitlines()]
        record["epochs"] = [e for e in record["epochs"] if e["epoch"] < epoch + 1] + [{
            "epoch": epoch + 1, "val_top1": log[-1]["val_top1"],
            "test_top1": float(np.trace(confusion) / confusion.sum()),
            "test_direction_top1": direction_top1(confusion), "train_seconds": log[-1]["seconds"]}]
        atomic_write_text(record_path, json.dumps(record, indent=1) + "\n")
        print(f"{study.name} seed {seed} epoch {epoch + 1}: test top-1 {record['epochs'][-1]['test_top1']:.1%}",
              flush=True)

    last = Path(config.out) / "last.pt"
    train(config, resume=last if last.exists() else None, after_epoch=after_epoch,
          device=config_from(DeviceConfig, args))
    model = build_model(config.model_config(len(MOTION_CLASSES)))
    cost = model_cost(study.name, model, args.size, args.size)
    record.update(status="done", params=cost.params, gflops=cost.flops / 1e9, checkpoint=str(last),
                  minutes_this_session=round((time.perf_counter() - started) / 60, 1))
    atomic_write_text(record_path, json.dumps(record, indent=1) + "\n")
    return record


def int8_stream_artifact(checkpoint: Path, target: str, calib: Path, verify: Path, out: Path) -> Path:
    """The int8 streaming artifact of `checkpoint` for `target` in `out` (exported unless it is there), calibrated
    on the clips of the list `calib` and verified on `verify`."""
    made = sorted(Path(out).glob(f"*_stream_int8{INT8_TARGETS[target]}"))
    if made:
        return made[0]
    plan = ExportPlan(target=target, form="stream", precision="int8", out=str(out), calib=str(calib),
                      calib_frames=288, verify=str(verify), verify_frames=144)
    return export_model(load_model(Path(checkpoint)), plan).results[0].path


def add_int8(record: dict, record_path: Path, args: argparse.Namespace) -> None:
    """int8 streaming artifacts of a finished causal run, calibrated on train clips, evaluated on the test split."""
    data = Path(args.data)
    for target in args.int8_targets:
        if target not in record.get("int8_top1", {}):
            artifact = int8_stream_artifact(Path(record["checkpoint"]), target, data / "train.txt", data / "val.txt",
                                            Path(record["checkpoint"]).parent / "int8")
            record.setdefault("int8_top1", {})[target] = evaluate(open_runtime(artifact), data / "test.txt").top1
            atomic_write_text(record_path, json.dumps(record, indent=1) + "\n")


# ---- the report ---------------------------------------------------------------------------------------

def summary(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1%} (1 run)"
    return f"{statistics.fmean(values):.1%} ± {statistics.stdev(values):.1%} ({len(values)} runs)"


def at_epoch(records: list[dict], epoch: int, key: str) -> list[float]:
    return [e[key] for r in records for e in r["epochs"] if e["epoch"] == epoch]


def paired_differences(by_name: dict[str, list[dict]], a: str, b: str, epoch: int) -> list[float]:
    """Test top-1 of `a` minus `b` at `epoch`, one value per seed that both have reached."""
    def by_seed(name: str) -> dict[int, float]:
        return {r["seed"]: e["test_top1"] for r in by_name.get(name, []) for e in r["epochs"] if e["epoch"] == epoch}

    first, second = by_seed(a), by_seed(b)
    return [first[seed] - second[seed] for seed in sorted(first.keys() & second.keys())]


def difference(values: list[float]) -> str:
    """Mean difference in points, its std, and the 95% confidence interval of the mean over the seeds."""
    if not values:
        return "–"
    mean = statistics.fmean(values) * 100
    if len(values) == 1:
        return f"{mean:+.1f} (1 seed)"
    std = statistics.stdev(values) * 100
    half = T95.get(len(values) - 1, 1.960) * std / math.sqrt(len(values))
    return f"{mean:+.1f} ± {std:.1f}, CI {mean - half:+.1f} to {mean + half:+.1f} ({len(values)} seeds)"


def reproduce_command(settings: dict) -> str:
    return shlex.join(["python", "-m", "stsm_edge.benchmarks.fidelity.run", "--data", settings["data"], "--size",
                       str(settings["size"]), "--epochs", str(settings["epochs"]), "--lr", str(settings["lr"]),
                       "--batch-size", str(settings["batch_size"])]
                      + (["--step-ms", str(settings["step_ms"])] if settings["step_ms"] else [])
                      + (["--max-steps", str(settings["max_steps"])] if settings["max_steps"] else []))


def report(out: Path) -> str:
    records = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    by_name: dict[str, list[dict]] = {}
    for record in records:
        by_name.setdefault(record["name"], []).append(record)
    settings = records[0]["settings"] if records else None
    if settings is None:
        return "# Fidelity study\n\nNo runs yet.\n"
    epochs = range(1, settings["epochs"] + 1)
    lines = ["# The paper's claims at small scale: TSN vs TSM vs STSM on the motion benchmark", "",
             f"Motion benchmark test split (chance {1 / len(MOTION_CLASSES):.1%}), MobileNetV2 from ImageNet, T = 8, "
             f"{settings['size']}², {settings['epochs']} epochs (cosine, lr {settings['lr']}, batch "
             f"{settings['batch_size']}), the same data and schedule for every model. Test top-1 after each epoch, "
             "mean ± sample std over the seeds that reached it (the count says how many). Direction top-1: the "
             "clips of the eight classes other than \"no motion\".", "",
             "| model | shift (dims, fold_div, causal) | " + " | ".join(f"top-1 epoch {e}" for e in epochs)
             + " | direction top-1, last epoch | params | GFLOPs |",
             "|---|---|" + "---|" * len(epochs) + "---|---|---|"]
    for study in MODELS:
        group = by_name.get(study.name, [])
        done = [r for r in group if r["status"] == "done"]
        shift = study.shift
        cost = f"{done[0]['params']:,} | {done[0]['gflops']:.3f}" if done else "– | –"
        lines.append(f"| {study.name} | {shift.dims or 'none'}, {shift.fold_div}, "
                     f"{'causal' if shift.causal else 'bidirectional'} | "
                     + " | ".join(summary(at_epoch(group, e, "test_top1")) for e in epochs)
                     + f" | {summary(at_epoch(done, epochs[-1], 'test_direction_top1'))} | {cost} |")
    lines += int8_lines(by_name, epochs)
    lines += ablation_lines(by_name, epochs)
    lines += ["", ("Paired differences, a minus b on the same seed, in points of test top-1: mean ± std over the "
                   "seeds, and the 95% confidence interval of the mean (Student's t). An interval that contains 0 "
                   "is no measurable difference."), "",
              "| a − b | question | " + " | ".join(f"epoch {e}" for e in epochs) + " |",
              "|---|---|" + "---|" * len(epochs)]
    lines += [f"| {a} − {b} | {question} | "
              + " | ".join(difference(paired_differences(by_name, a, b, e)) for e in epochs) + " |"
              for a, b, question in CONTRASTS]
    lines += ["", PAPER, "", "![learning curves](curves.png)", "",
              f"Reproduce (resumes; a finished run is kept): `{reproduce_command(settings)}`", ""]
    plot(by_name, out / "curves.png", settings["epochs"])
    return "\n".join(lines)


def int8_lines(by_name: dict[str, list[dict]], epochs: range) -> list[str]:
    """STSM causal's int8 artifacts per target beside the same runs in fp32, and each run's gap, seed by seed."""
    quantized = sorted((r for r in by_name.get("STSM causal", []) if r.get("int8_top1")), key=lambda r: r["seed"])
    if not quantized:
        return []
    lines = ["", ("STSM causal, int8 streaming artifacts (calibrated on train clips) evaluated in their runtimes on "
                  "the same test clips, beside the same runs in fp32:"), "",
             "| target | int8 top-1 | fp32 top-1 of the same runs | int8 − fp32, each run (points) |",
             "|---|---|---|---|"]
    for target in INT8_TARGETS:
        runs = [r for r in quantized if target in r["int8_top1"]]
        if runs:
            int8 = [r["int8_top1"][target] for r in runs]
            fp32 = at_epoch(runs, epochs[-1], "test_top1")
            each = " / ".join(f"{(q - f) * 100:+.2f}" for q, f in zip(int8, fp32))
            seeds = " / ".join(str(r["seed"]) for r in runs)
            lines.append(f"| {target} | {summary(int8)} | {summary(fp32)} | {each} (seeds {seeds}) |")
    return lines


def ablation_lines(by_name: dict[str, list[dict]], epochs: range) -> list[str]:
    """The alpha ablation: one run per alpha, all on the seed of the ablation runs; its 3/8 row is the STSM causal
    run of that seed, so all four rows share data, schedule and initialisation."""
    runs = [r for study in ABLATION_RUNS for r in by_name.get(study.name, [])]
    if not runs:
        return []
    seed = min(r["seed"] for r in runs)
    lines = ["", (f"Alpha ablation (the paper's Table 1) for STSM causal, seed {seed}, one run per row: alpha is the "
                  "share of the channels that move, 3 / fold_div (THW); the 3/8 row is the STSM causal run of the same "
                  "seed."), "",
             "| alpha | fold_div | " + " | ".join(f"top-1 epoch {e}" for e in epochs)
             + " | direction top-1, last epoch |", "|---|---|" + "---|" * len(epochs) + "---|"]
    for alpha, study in ABLATION.items():
        group = [r for r in by_name.get(study.name, []) if r["seed"] == seed]
        done = [r for r in group if r["status"] == "done"]
        lines.append(f"| {alpha} | {study.shift.fold_div} | "
                     + " | ".join(summary(at_epoch(group, e, "test_top1")) for e in epochs)
                     + f" | {summary(at_epoch(done, epochs[-1], 'test_direction_top1'))} |")
    return lines


def plot(by_name: dict[str, list[dict]], path: Path, epochs: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    names = [s.name for s in (*MODELS, *ABLATION_RUNS)]
    for name in (n for n in names if n in by_name):
        group = by_name[name]
        curve = [(e, at_epoch(group, e, "test_top1")) for e in range(1, epochs + 1)]
        curve = [(e, v) for e, v in curve if v]
        if not curve:
            continue
        x = [e for e, _ in curve]
        runs = max(len(v) for _, v in curve)
        mean = np.array([np.mean(v) for _, v in curve])
        std = np.array([np.std(v, ddof=1) if len(v) > 1 else 0.0 for _, v in curve])
        line, = ax.plot(x, mean, marker="o", label=f"{name} ({runs} run{'s' if runs > 1 else ''})",
                        linestyle="--" if " a=" in name else "-")
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    ax.axhline(1 / len(MOTION_CLASSES), color="grey", linewidth=0.8, linestyle=":", label="chance")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test top-1")
    ax.set_ylim(0, 1)
    ax.set_xticks(range(1, epochs + 1))
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))  # beside: no curve hidden
    ax.set_title("Motion benchmark: test top-1 per epoch (mean ± std over seeds)", fontsize=9)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flag(parser, DATA, default="runs/motion", help="motion benchmark folder (rendered if missing)")
    add_flag(parser, CLIPS_PER_CLASS, type=int, default=300, help="when rendering --data (seed 0)")
    add_flag(parser, OUT, default=str(HERE), help="run records, table.md, curves.png, results.json")
    add_flag(parser, WORK, default="runs/fidelity", help="training folders and int8 artifacts (not committed)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    add_flag(parser, ModelFlags.size, type=int, default=112)
    add_flag(parser, FitFlags.epochs, type=int, default=3)
    add_flag(parser, FitFlags.lr, type=float, default=0.005)
    add_flag(parser, FitFlags.batch_size, type=int, default=8)
    add_flag(parser, STEP_MS, type=float, default=None, help="fixed-step sampling (default: segment)")
    add_flag(parser, FitFlags.workers, type=int, default=1)
    add_flag(parser, FitFlags.max_steps_per_epoch, type=int, dest="max_steps")
    parser.add_argument("--only", nargs="+", help="run only these rows (model names, or alpha values like 1/8)")
    parser.add_argument("--int8-targets", nargs="*", choices=list(INT8_TARGETS), default=list(INT8_TARGETS),
                        help="runtimes that evaluate the STSM causal runs in int8 (none given: no int8)")
    parser.add_argument("--report-only", action="store_true")
    add_options(parser, DeviceConfig)
    args = parser.parse_args(argv)
    out = Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        if not (Path(args.data) / "train.txt").exists():
            make_motion_data(Path(args.data), seed=0, clips_per_class=args.clips_per_class)
        plan = [(m, seed) for seed in args.seeds for m in MODELS]
        plan += [(study, args.seeds[0]) for study in ABLATION_RUNS]
        for study, seed in plan:
            alpha = next((a for a, s in ABLATION.items() if s == study), None)
            if args.only and study.name not in args.only and alpha not in args.only:
                continue
            record_path = out / "runs" / f"{study.slug}_seed{seed}.json"
            record = run_one(study, seed, args, record_path)
            if study.method == "stsm_causal":
                add_int8(record, record_path, args)
            write_report(out)  # after every run: a study stopped midway still has its table
    print(write_report(out))
    return 0


def write_report(out: Path) -> str:
    text = report(out)
    atomic_write_text(out / "table.md", text)
    records = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    atomic_write_text(out / "results.json", json.dumps({"runs": records}, indent=1) + "\n")
    return text


if __name__ == "__main__":
    sys.exit(main())
