"""Training speed: train and distill steps of STSM-MobileNetV2 (causal, T = 8) at 112² and 224², on each device.

Each row runs the training loop itself (`fit_epoch`, what `train` and `distill` run) for a few warm-up steps, then
for `--steps` timed ones, and reports clips/s, the share of the step time spent waiting for the next batch, and
the peak memory (GPU: the allocator's peak; CPU: the process's peak resident memory, reset before each row).
Batches come from the real data path (`decoded`: motion clips decoded, sampled, augmented and preprocessed by the
loader's workers; `cached`: the same, reading each video's frames from the decoded-frame cache, as every epoch after
the first does with `--frame-cache`), or from one `synthetic` batch already on the device (no data path at all).
`load` rows time the data path alone (the loader's clips/s with no model), to say where the time goes.
The ratios (GPU over CPU, AMP over fp32, decoded over synthetic, cached over decoded) are taken between rows of the
same run.

    python -m stsm_edge.benchmarks.train_speed                      # every device torch sees, fp32 and bf16
    python -m stsm_edge.benchmarks.train_speed --devices cpu --batch-size 4 --steps 3
    python -m stsm_edge.benchmarks.train_speed --jobs load --batches decoded cached   # the data path alone

Writes benchmarks/results/train_speed-<name>.json and .md (--out for another folder).
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
from stsm_edge.benchmarks.device import fingerprint, slug

from stsm_edge.data.annotations import read_annotations, read_labels
from stsm_edge.data.augment import ClipAugment
from stsm_edge.data.dataset import make_loader
from stsm_edge.data.motion import make_motion_data
from stsm_edge.fileio import atomic_write_text
from stsm_edge.fit.device import Accelerator
from stsm_edge.fit.distill import distillation
from stsm_edge.fit.train import Fit, TrainConfig, fit_epoch, make_optimizer
from stsm_edge.models import build_model
from stsm_edge.options import OUT, WORK, BenchFlags, DeviceConfig, DeviceFlags, FitFlags, add_flag
from stsm_edge.preprocess import PreprocessSpec

SCHEMA, VERSION = "stsm-edge/train-speed", 1
HERE = Path(__file__).resolve().parent
JOBS = ("train", "distill", "load")
BATCHES = ("synthetic", "decoded", "cached")


@dataclass(frozen=True)
class Row:
    job: str
    size: int
    device: str
    amp: str
    data: str

    @property
    def key(self) -> tuple:
        return self.job, self.size, self.device, self.amp, self.data


def cpu_peak_reset() -> None:
    """Linux: writing 5 to clear_refs resets the process's peak resident set (VmHWM)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def cpu_peak_mb() -> float | None:
    try:
        line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1]) / 1024


def motion_records(root: Path, needed: int):
    """Train clips of a small rendered motion set (rendered once under `root`), repeated to `needed` clips: the
    loader decodes each repeat again, as it would a larger set."""
    data = root / "motion"
    if not (data / "train.txt").exists():
        make_motion_data(data, seed=0, clips_per_class=4, splits=("train",))
    records = read_annotations(data / "train.txt")
    return list(itertools.islice(itertools.cycle(records), needed)), read_labels(data / "labels.txt")


def batch_size(row: Row, args: argparse.Namespace) -> int:
    return args.cpu_batch_size if row.device == "cpu" else args.batch_size


def build_fit(row: Row, args: argparse.Namespace, accelerator: Accelerator, records, labels) -> Fit:
    cache = args.work / "frame_cache" if row.data == "cached" else None
    config = TrainConfig(data=str(args.work), out=str(args.work / "unused"), method="stsm_causal", size=row.size,
                         batch_size=batch_size(row, args), workers=args.workers, prefetch=args.prefetch,
                         frame_cache=cache and str(cache), pretrained="none")
    spec = PreprocessSpec.for_size(row.size, row.size)
    train_set = config.dataset(records, spec, train=True, augment=ClipAugment(flip_label_map={}))
    model = build_model(config.model_config(len(labels)))
    fit = Fit(config, model, labels, spec, None, train_set, None, accelerator)
    if row.job == "distill":  # a bidirectional teacher of the same size, as distill runs it: same device, autocast
        teacher_config = TrainConfig(data=".", out=".", method="stsm", size=row.size)
        teacher = accelerator.prepare(build_model(teacher_config.model_config(len(labels))).eval())
        fit.objective, fit.frozen_batchnorm = distillation(teacher, 4.0, 0.0), True
    return fit


def measure(row: Row, args: argparse.Namespace, records, labels) -> dict:
    accelerator = Accelerator.open(DeviceConfig(row.device, row.amp, args.channels_last), env={})
    fit = build_fit(row, args, accelerator, records, labels)
    if fit.train_set.frame_cache is not None:  # filled before timing: the rows time the epochs after the first
        for record in dict.fromkeys(records):
            fit.train_set.frame_cache.read(record.path, record.num_frames)
    loader = make_loader(fit.train_set, batch_size(row, args), shuffle=True, workers=args.workers,
                         pin_memory=accelerator.pin_memory, prefetch=args.prefetch)
    if row.job == "load":
        return measure_loading(loader, args)
    model = accelerator.prepare(fit.model)
    optimizer = make_optimizer(model, fit.config)
    # One iterator for the warm-up and the timed steps (fit_epoch's iter() of an iterator is itself): a second
    # iter() of the loader would wait for the batches still in flight from the first.
    batches = iter(loader)
    if row.data == "synthetic":  # the same batch, already on the device: the loop with no data path
        clips, targets = next(batches)
        batches = itertools.repeat((accelerator.batch(clips), accelerator.batch(targets)), args.warmup + args.steps)
    fit_epoch(fit, model, batches, optimizer, 0, args.warmup)  # cuDNN's algorithm search, workers starting
    peak_before(accelerator)
    totals = fit_epoch(fit, model, batches, optimizer, 1, args.steps)
    return {"batch_size": batch_size(row, args), "clips_per_second": totals.clips / totals.seconds,
            "data_wait": totals.waited / totals.seconds, "step_ms": 1e3 * totals.seconds / args.steps,
            "peak_memory_mb": peak_after(accelerator)}


def measure_loading(loader, args: argparse.Namespace) -> dict:
    batches = iter(loader)
    for _ in range(args.warmup):
        next(batches)
    started = time.perf_counter()
    clips = sum(len(next(batches)[1]) for _ in range(args.steps))
    seconds = time.perf_counter() - started
    return {"batch_size": args.cpu_batch_size, "clips_per_second": clips / seconds, "data_wait": 1.0,
            "step_ms": 1e3 * seconds / args.steps, "peak_memory_mb": None}


def peak_before(accelerator: Accelerator) -> None:
    if accelerator.device.type == "cuda":
        torch.cuda.synchronize(accelerator.device)
        torch.cuda.reset_peak_memory_stats(accelerator.device)
    else:
        cpu_peak_reset()


def peak_after(accelerator: Accelerator) -> float | None:
    if accelerator.device.type == "cuda":
        return accelerator.peak_memory_bytes() / 2**20
    return cpu_peak_mb()


def plan(args: argparse.Namespace) -> list[Row]:
    rows = []
    for size, job, device, amp in itertools.product(args.sizes, args.jobs, args.devices, args.amp):
        if job == "load":
            if device == args.devices[0] and amp == args.amp[0]:  # the data path does not depend on either
                rows += [Row(job, size, "cpu", "off", data) for data in args.data if data != "synthetic"]
            continue
        if amp == "fp16" and device == "cpu":
            continue
        rows += [Row(job, size, device, amp, data) for data in args.data]
    return rows


def ratios(rows: list[dict]) -> list[dict]:
    """GPU / CPU, AMP / fp32, decoded / synthetic and cached / decoded: clips/s of two rows of this run that differ
    in one setting."""
    by_key = {tuple(r[k] for k in ("job", "size", "device", "amp", "data")): r for r in rows}
    found = []
    for (job, size, device, amp, data), row in by_key.items():
        pairs = []
        if device != "cpu":
            pairs.append((f"{device} / cpu", (job, size, "cpu", amp, data)))
        if amp != "off":
            pairs.append((f"{amp} / off", (job, size, device, "off", data)))
        if data == "decoded" and job != "load":
            pairs.append(("decoded / synthetic", (job, size, device, amp, "synthetic")))
        if data == "cached":
            pairs.append(("cached / decoded", (job, size, device, amp, "decoded")))
        for what, other in pairs:
            if other in by_key:
                found.append({"what": what, "job": job, "size": size, "device": device, "amp": amp, "data": data,
                              "ratio": row["clips_per_second"] / by_key[other]["clips_per_second"]})
    return found


def speed(clips_per_second: float) -> str:
    """Three significant figures below 100 clips/s (a loaded CPU gives a few hundredths), whole clips above."""
    return f"{clips_per_second:,.0f}" if clips_per_second >= 100 else f"{clips_per_second:.3g}"


def report(results: dict) -> str:
    settings = results["settings"]
    lines = [f"# Training speed: {results['device']['name']}", "",
             f"STSM-MobileNetV2 causal, T = {settings['segments']}, batch {settings['batch_size']} (CPU rows: "
             f"{settings['cpu_batch_size']}), "
             f"{settings['warmup']} warm-up + {settings['steps']} timed steps per row, loader processes: "
             f"{settings['workers']} (prefetch {settings['prefetch']}), "
             f"channels-last {'on' if settings['channels_last'] else 'off'}"
             f"; {results['device']['cores']} cores ({results['device']['cpu']})"
             + (f", GPU: {results['gpu']}" if results["gpu"] else ", no GPU") + ".", ""]
    if results.get("note"):
        lines += [f"Note: {results['note']}", ""]
    lines += ["| job | size | device | amp | batches | batch | clips/s | data wait | step (ms) | peak memory (MiB) |",
              "|---|---|---|---|---|---:|---:|---:|---:|---:|"]
    for r in results["rows"]:
        peak = "–" if r["peak_memory_mb"] is None else f"{r['peak_memory_mb']:,.0f}"
        wait = "(all)" if r["job"] == "load" else f"{r['data_wait']:.0%}"
        lines.append(f"| {r['job']} | {r['size']}² | {r['device']} | {r['amp']} | {r['data']} | {r['batch_size']} | "
                     f"{speed(r['clips_per_second'])} | {wait} | {r['step_ms']:,.0f} | {peak} |")
    if results["ratios"]:
        lines += ["", "Ratios of clips/s between rows of this run:", "",
                  "| ratio | job | size | device | amp | batches | × |", "|---|---|---|---|---|---|---:|"]
        lines += [f"| {q['what']} | {q['job']} | {q['size']}² | {q['device']} | {q['amp']} | {q['data']} | "
                  f"{q['ratio']:.2f} |" for q in results["ratios"]]
    lines += ["", "Peak memory: the GPU allocator's peak on a GPU; on the CPU the process's peak resident memory "
              "(loader workers apart). `load` rows: the data path alone, no model.", "",
              f"Made with: `{results['command']}`", ""]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    gpus = ["cuda"] if torch.cuda.is_available() else []
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", nargs="+", choices=JOBS, default=list(JOBS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[112, 224])
    parser.add_argument("--devices", nargs="+", default=["cpu", *gpus], help="cpu, cuda, cuda:N")
    add_flag(parser, DeviceFlags.amp, nargs="+", default=["off", "bf16"], help="each mode a row")
    parser.add_argument("--batches", nargs="+", choices=BATCHES, default=list(BATCHES), dest="data",
                        help="where batches come from: one batch already on the device, the loader decoding "
                             "videos, or the loader reading the decoded-frame cache")
    add_flag(parser, DeviceFlags.channels_last, action="store_true")
    add_flag(parser, FitFlags.batch_size, type=int, default=32, help="clips per batch (GPU rows)")
    parser.add_argument("--cpu-batch-size", type=int, default=8, help="the CPU rows' (they are far slower)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per row")
    add_flag(parser, BenchFlags.warmup, type=int, default=2, help="untimed steps before each row's timed ones")
    add_flag(parser, FitFlags.workers, type=int, default=2)
    add_flag(parser, FitFlags.prefetch, type=int, default=2)
    add_flag(parser, BenchFlags.device_name, help="the device in the results' file name (default: CPU model, "
                                                 "cores, GPU)")
    add_flag(parser, BenchFlags.note)
    add_flag(parser, OUT, type=Path, default=HERE / "results", help="where the results go")
    add_flag(parser, WORK, type=Path, default=Path("runs/train_speed"), help="the rendered clips and their "
                                                                           "decoded-frame cache")
    args = parser.parse_args(argv)
    for device in args.devices:
        DeviceConfig(device)  # an unknown device: one line, before anything runs
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    device = fingerprint(args.device_name)
    name = args.device_name or device["name"] + (f"-{slug(gpu)}" if gpu else "")
    records, labels = motion_records(args.work, (args.warmup + args.steps) * max(args.batch_size, args.cpu_batch_size))
    command = shlex.join(["python", "-m", "stsm_edge.benchmarks.train_speed", *argv])
    results = {"schema": SCHEMA, "version": VERSION, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "tool": "train_speed", "command": command,
               "settings": {"segments": 8, "batch_size": args.batch_size, "cpu_batch_size": args.cpu_batch_size,
                            "steps": args.steps, "warmup": args.warmup, "workers": args.workers,
                            "prefetch": args.prefetch, "channels_last": args.channels_last},
               "device": device, "gpu": gpu, "note": args.note, "rows": [], "ratios": []}
    args.out.mkdir(parents=True, exist_ok=True)
    for row in plan(args):
        measured = measure(row, args, records, labels)
        results["rows"].append({**row.__dict__, **{k: round(v, 4) if isinstance(v, float) else v
                                                  for k, v in measured.items()}})
        results["ratios"] = ratios(results["rows"])
        print(f"{row.job} {row.size}² {row.device} {row.amp} {row.data}: {measured['clips_per_second']:.1f} clips/s, "
              f"data wait {measured['data_wait']:.0%}", flush=True)
        # Written after every row: a run stopped midway keeps what it measured.
        atomic_write_text(args.out / f"train_speed-{name}.json", json.dumps(results, indent=1) + "\n")
        atomic_write_text(args.out / f"train_speed-{name}.md", report(results))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
