"""int8 / fp32 on ExecuTorch (XNNPACK) for variants of the int8 recipe: speed, parity, and where the time goes.

The model is the benchmark's (benchmarks/harness.py): causal STSM-MobileNetV2, width 1.0, 224², ImageNet
weights and classes, streaming form. Every variant is one set of ExecuTorch converter options (the typed
`ExecuTorchOptions`: `float_leading_convs`, `classifier`), calibrated on box.mp4 and verified like any export,
here on real vtest.avi frames (the benchmark's timing frames; states carried).

    python -m stsm_edge.benchmarks.int8_speed export [--variants l3,l0]    # fp32 + int8 variants (cached)
    python -m stsm_edge.benchmarks.int8_speed time --threads 1 --rounds 120
    python -m stsm_edge.benchmarks.int8_speed ops                          # per-op time (ETDump) per variant
    python -m stsm_edge.benchmarks.int8_speed parity                       # top-1 agreement with fp32, real frames

`time` runs the harness's interleaved comparison (benchmarks/worker.py `compare`) in one child process per
thread count: per round, K runs of every artifact in alternation, the median of each, and per round the
ratio int8 variant / fp32; reported as median and min–max over the rounds. `ops` reads XNNPACK's per-operator
times from an ETDump (the ExecuTorch wheel records them) and sums them by operator kind.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from stsm_edge.options import OUT, BenchFlags, RunnerFlags, add_flag

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts" / "int8_speed"
# name -> ExecuTorch converter options of the int8 variant
VARIANTS = {
    "l3": {"float_leading_convs": 3},
    "l1": {"float_leading_convs": 1},
    "l0": {"float_leading_convs": 0},
    "l3_static": {"float_leading_convs": 3, "classifier": "static"},
    "l0_static": {"float_leading_convs": 0, "classifier": "static"},
    "l0_floatfc": {"float_leading_convs": 0, "classifier": "float"},
}
CALIBRATION = ("box.mp4", 64)
VERIFICATION = ("vtest.avi", 96)
BENCH = ("vtest.avi", 32)


def export(names: list[str], out: Path) -> None:
    from stsm_edge.benchmarks.harness import Settings, build, real_frames
    from stsm_edge.converters.base import export_artifact

    settings = Settings()
    net, labels, spec, source = build("stsm", settings)
    calibration = real_frames(CALIBRATION[0], CALIBRATION[1], settings.size)
    verification = real_frames(VERIFICATION[0], VERIFICATION[1], settings.size)
    for name in ["fp32", *names]:
        if (out / f"{name}.pte.json").exists():
            continue
        precision, options = ("fp32", {}) if name == "fp32" else ("int8", VARIANTS[name])
        result = export_artifact(net, "executorch", "stream", precision, out, calibration, verification, labels, spec,
                                 source=source, options=options, name=name)
        parity = result.parity
        print(f"{name}: {result.size_bytes / 1e6:.2f} MB, delegation {json.dumps(result.sidecar['delegation'])}, "
              f"top-1 {parity['vs_fp32']['top1_agreement']:.1%} (windows), "
              f"{parity.get('per_frame', parity['vs_fp32'])['top1_agreement']:.1%} (frames)", flush=True)


def time_variants(names: list[str], out: Path, threads: int, rounds: int, k: int) -> dict:
    from stsm_edge.benchmarks.harness import real_frames, run_child

    members = [{"key": name, "artifact": str(out / f"{name}.pte"), "form": "stream"} for name in ["fp32", *names]]
    with tempfile.TemporaryDirectory() as tmp:
        frames_path = Path(tmp) / "frames.npy"
        np.save(frames_path, np.stack(real_frames(BENCH[0], BENCH[1], 224)))
        job = {"members": members, "threads": threads, "frames": str(frames_path), "segments": 8, "rounds": rounds,
               "k": k, "warmup": 10}
        medians = run_child("compare", job, Path(tmp))["medians"]
    result = {"threads": threads, "rounds": rounds, "k": k, "fp32_ms": statistics.median(medians["fp32"]),
              "ratios": {}}
    for name in names:
        values = [a / b for a, b in zip(medians[name], medians["fp32"])]
        result["ratios"][name] = {"median": statistics.median(values), "min": min(values), "max": max(values),
                                  "ms": statistics.median(medians[name])}
    return result


def operator_times(path: Path, frames: list[np.ndarray], runs: int, threads: int = 1) -> dict[str, list[float]]:
    """ms of each XNNPACK operator of a stream .pte per call, from an ETDump: `runs` calls on `frames` in turn,
    states carried. Operator names are XNNPACK's, numbered per kind in execution order, e.g.
    "Convolution (NHWC, F32) IGEMM #1" (a float conv) or "Fully Connected (NC, QS8, QC8W) GEMM #3" (an int8 1x1 conv)."""
    import torch
    from executorch.devtools import Inspector
    from executorch.extension.pybindings.portable_lib import _load_for_executorch, _unsafe_reset_threadpool

    _unsafe_reset_threadpool(threads)
    sidecar = json.loads(Path(f"{path}.json").read_text())
    method = _load_for_executorch(str(path), enable_etdump=True)
    states = [torch.zeros(s["shape"]) for s in sidecar["inputs"][1:]]
    for i in range(runs):
        states = list(method.forward([torch.from_numpy(frames[i % len(frames)][None]), *states])[1:])
    with tempfile.TemporaryDirectory() as tmp:
        method.write_etdump_result_to_file(f"{tmp}/run.etdp")
        blocks = [b for b in Inspector(etdump_path=f"{tmp}/run.etdp").event_blocks if b.name == "Execute"]
    times = collections.defaultdict(list)
    for block in blocks:
        for event in block.events:
            if event.perf_data and " #" in event.name:
                times[event.name].extend(event.perf_data.raw)
    return dict(times)


def op_profile(path: Path, runs: int, threads: int = 1, percentile: float = 10) -> dict[str, float]:
    """ms per XNNPACK operator over `runs` calls (after 5 that warm caches), summed by kind. Each
    operator's `percentile`-th percentile over the calls: on a loaded machine the median of a 0.05 ms operator
    still carries other processes' time slices, its low percentile its own cost."""
    from stsm_edge.benchmarks.harness import real_frames

    kinds: collections.Counter = collections.Counter()
    for name, times in operator_times(path, real_frames(BENCH[0], 16, 224), runs + 5, threads).items():
        kinds[re.sub(r" #\d+$", "", name)] += float(np.percentile(times[5:], percentile))
    return dict(kinds)


def parity(names: list[str], out: Path) -> dict:
    """Top-1 agreement of each int8 variant with eager fp32, as the export's verification computes it (states
    carried; windows of T frames' mean logits, and single frames), on vtest.avi and cup.mp4; fp32 run once."""
    from stsm_edge.benchmarks.harness import Settings, build, real_frames
    from stsm_edge.converters.base import artifact_logits, compare_logits, eager_logits, moving_average

    from stsm_edge.forms import build_form, form_inputs
    from stsm_edge.runtimes.base import open_runtime

    settings = Settings()
    net = build("stsm", settings)[0]
    form = build_form(net, "stream", settings.size, settings.size)
    result = {}
    for video, count, stride in ((VERIFICATION[0], VERIFICATION[1], 2), ("cup.mp4", 120, 1)):
        feed = form_inputs(form, real_frames(video, count, settings.size, stride), settings.segments)
        expected = eager_logits(form.module, feed, True)
        for name in names:
            got = artifact_logits(open_runtime(out / f"{name}.pte", threads=1), feed, True)
            window = settings.segments
            windows = compare_logits(moving_average(expected, window), moving_average(got, window))
            frames = compare_logits(expected, got)
            result[f"{name} {video}"] = {"windows": windows, "frames": frames}
            print(f"{name:12s} {video:10s} windows {windows['top1_agreement']:.1%} of {windows['samples']}, "
                  f"frames {frames['top1_agreement']:.1%} of {frames['samples']}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=("export", "time", "ops", "parity"))
    add_flag(parser, BenchFlags.variants, default=",".join(VARIANTS))
    add_flag(parser, OUT, type=Path, default=ARTIFACTS, help="the variants' artifacts")
    add_flag(parser, RunnerFlags.threads, type=int, default=1)
    add_flag(parser, BenchFlags.rounds, type=int, default=120)
    add_flag(parser, BenchFlags.repeats, type=int, default=5, dest="k")
    add_flag(parser, BenchFlags.runs, type=int, default=60)
    args = parser.parse_args(argv)
    names = [n for n in args.variants.split(",") if n]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.job == "export":
        export(names, args.out)
    elif args.job == "parity":
        (args.out / "parity.json").write_text(json.dumps(parity(names, args.out), indent=1))
    elif args.job == "time":
        result = time_variants(names, args.out, args.threads, args.rounds, args.k)
        (args.out / f"time_{args.threads}t.json").write_text(json.dumps(result, indent=1))
        print(f"{args.threads} thread(s), {args.rounds} rounds x {args.k}: fp32 {result['fp32_ms']:.2f} ms")
        for name, r in result["ratios"].items():
            print(f"  {name:12s} {r['ms']:.2f} ms  int8/fp32 x{r['median']:.3f} ({r['min']:.3f}-{r['max']:.3f})")
    else:
        profiles = {name: op_profile(args.out / f"{name}.pte", args.runs, args.threads) for name in ["fp32", *names]}
        (args.out / f"ops_{args.threads}t.json").write_text(json.dumps(profiles, indent=1))
        fp32_total = sum(profiles["fp32"].values())
        for name, kinds in profiles.items():
            total = sum(kinds.values())
            print(f"{name}, {args.threads} thread(s): {total:.3f} ms in XNNPACK operators (sum of per-operator 10th "
                  f"percentiles), "
                  f"x{total / fp32_total:.3f} of fp32")
            for kind, ms in sorted(kinds.items(), key=lambda kv: -kv[1]):
                print(f"  {ms:7.3f} ms {ms / total:6.1%}  {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
