"""Where the int8 STSM stream's extra time goes on ExecuTorch, operator by operator, against plain MobileNetV2.

The models are the benchmark's (benchmarks/harness.py: 224², ImageNet weights, calibrated on box.mp4 and verified
on cup.mp4, cached like its exports): the causal STSM int8 stream with its states carried by the caller
("explicit"), the same stream with its states inside the program ("internal"), and plain MobileNetV2's int8
stream. Every program is one XNNPACK delegate.

    python -m stsm_edge.benchmarks.et_attribution [--rounds 40] [--k 5]    # export (cached), profile, compare
    python -m stsm_edge.benchmarks.et_attribution --quick                    # tiny model, a smoke run

Two measurements, both interleaved (per round, K calls of each program in turn), 1 thread, on real vtest.avi
frames with the states carried:

1. ETDump. Each program is loaded with ETDump on; per call it records every XNNPACK operator, the delegate call,
   each operator outside the delegate (the internal program's write-back `copy_` of each state) and
   `Method::execute`; the Python wall time of the call is taken around it. Each call's wall time is split into
   parts: the XNNPACK operators, XNNPACK between its operators, the operators outside
   the delegate, the rest of `Method::execute`, and the bindings around it (setting inputs, reading outputs).
   Recording costs time per operator, so each program is also loaded without ETDump and timed in the same
   rounds; the difference is one more (negative) part.
   The STSM program's operator sequence is aligned with plain's (the same kinds in the same order): the
   operators only STSM has are the shift's one-hot depthwise convs, the splice of the T group, and the
   states' converts and transposes at the delegate's edge; the aligned ones are the backbone both run. An
   operator part is the sum of its operators' medians over the calls (an operator is rarely interrupted by other
   processes, a whole call often is), each other part the median of what it spends per call; their sum estimates
   the call without ETDump, whose measured median is reported beside it.
2. The benchmark's own comparison (benchmarks/worker.py `compare`, through the runtime adapter, no ETDump):
   STSM ÷ plain and internal ÷ explicit, per round a ratio of medians, median and min–max over rounds.

Writes benchmarks/results/et_attribution.json and .md (--results-dir).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stsm_edge.options import BenchFlags, add_flag

PROGRAMS = {"stsm": ("stsm", "explicit"), "stsm_internal": ("stsm", "internal"), "plain": ("plain", "explicit")}
COMMAND = "python -m stsm_edge.benchmarks.et_attribution"

# What an XNNPACK operator kind is doing in these programs. Operators STSM has and plain lacks are the shift's
# and the states'; which of the two is told by the kind (every one-hot shift conv is a depthwise conv, every
# splice is slices and copies, every state crosses the delegate's edge as a convert and a transpose).
EXTRA_ROLES = (
    (r"DWConv", "shift: one-hot depthwise 3×3 convs"),
    (r"^(Slice|Copy|Concatenate)", "shift: T-group splice (slices + copies)"),
    (r"^Convert", "states: float ↔ int8 converts at the delegate's edge"),
    (r"^Transpose", "states: NCHW ↔ NHWC transposes at the delegate's edge"),
)
SHARED_ROLES = (
    (r"IGEMM", "backbone: stem 3×3 conv"),
    (r"GEMM", "backbone: 1×1 convs and classifier (GEMM)"),
    (r"DWConv", "backbone: depthwise 3×3 convs"),
    (r"^Add", "backbone: residual adds"),
    (r".", "backbone: frame transpose/convert, mean, reshape"),
)
ETDUMP = "ETDump's own recording (wall with it − without it)"
NON_OPERATOR = {
    "between": "XNNPACK between its operators",
    "outside": "operators outside the delegate (state write-back copy_)",
    "execute": "Method::execute outside the delegate call and operators",
    "bindings": "bindings around Method::execute (inputs in, outputs out)",
}


def kind(name: str) -> str:
    """An XNNPACK operator's kind: its event name without the per-kind number."""
    return re.sub(r" #\d+$", "", name)


def role(name: str, extra: bool) -> str:
    for pattern, label in EXTRA_ROLES if extra else SHARED_ROLES:
        if re.search(pattern, kind(name)):
            return label
    return f"other: {kind(name)}"


# ---- artifacts ----------------------------------------------------------------------------------------------------

def export(settings, folder: Path, log=print) -> dict[str, Path]:
    """program name -> int8 stream .pte of the benchmark's model, exported as `stsm-edge bench` does (cached)."""
    from stsm_edge.benchmarks.harness import build, cached, real_frames
    from stsm_edge.converters.base import export_artifact

    calibration = real_frames("box.mp4", settings.calibration_frames, settings.size)
    verification = real_frames("cup.mp4", settings.verification_frames, settings.size)
    paths, nets = {}, {}
    for name, (model, state) in PROGRAMS.items():
        nets.setdefault(model, build(model, settings))
        net, labels, spec, source = nets[model]
        path = folder / f"{name}.pte"
        if cached(path, net, spec, source) is None:
            log(f"exporting {name}")
            export_artifact(net, "executorch", "stream", "int8", folder, calibration, verification, labels, spec,
                            source=source, name=name, options={"state": state})
        paths[name] = path
    return paths


# ---- ETDump -------------------------------------------------------------------------------------------------------

@dataclass
class Calls:
    """One program's calls: wall ms per call, and per call the ms of each ETDump event."""

    wall: np.ndarray                  # (calls,)
    operators: dict[str, np.ndarray]  # XNNPACK operator name (in execution order) -> (calls,)
    delegate: np.ndarray              # DELEGATE_CALL
    outside: np.ndarray               # the operators outside the delegate, summed
    outside_count: int
    execute: np.ndarray               # Method::execute
    bare: np.ndarray                  # wall ms per call of the same program loaded without ETDump

    def parts(self, names: dict[str, str]) -> dict[str, float]:
        """ms per call of each part, keyed by `names` (operator -> part) and NON_OPERATOR. An operator part is the
        sum of its operators' median times; each other part is the median over calls of what it spends per call.
        On a shared machine, a call of several ms is often interrupted by other processes, but a single operator
        rarely is, so the median of each operator is its own cost where a mean over calls is not."""
        out: dict[str, float] = {}
        for operator, times in self.operators.items():
            out[names[operator]] = out.get(names[operator], 0.0) + float(np.median(times))
        inside = sum(self.operators.values())
        for part, times in ((NON_OPERATOR["between"], self.delegate - inside),
                            (NON_OPERATOR["outside"], self.outside),
                            (NON_OPERATOR["execute"], self.execute - self.delegate - self.outside),
                            (NON_OPERATOR["bindings"], self.wall - self.execute)):
            out[part] = float(np.median(times))
        out[ETDUMP] = float(np.median(self.bare) - np.median(self.wall))
        return out


def load_with_etdump(path: Path):
    from executorch.extension.pybindings.portable_lib import _load_for_executorch

    return _load_for_executorch(str(path), enable_etdump=True)


def read_calls(module, wall: list[float], bare: list[float], skip: int) -> Calls:
    """The ETDump of every call of `module` (the first `skip` dropped), joined with their wall times."""
    from executorch.devtools import Inspector

    with tempfile.TemporaryDirectory() as tmp:
        module.write_etdump_result_to_file(f"{tmp}/run.etdp")
        (block,) = [b for b in Inspector(etdump_path=f"{tmp}/run.etdp").event_blocks if b.name == "Execute"]
    operators, other, outside = {}, {}, []
    for event in block.events:
        times = np.asarray(event.perf_data.raw[skip:], np.float64) if event.perf_data else None
        if times is None:
            continue
        if event.is_delegated_op:
            operators[event.name] = times
        elif event.name == "OPERATOR_CALL":  # one per operator outside the delegate, around its kernel
            outside.append(times)
        else:
            other[event.name] = times
    calls = len(wall) - skip
    lengths = {len(t) for t in [*operators.values(), *other.values(), *outside]}
    if lengths != {calls}:
        raise RuntimeError(f"ETDump holds {sorted(lengths)} calls per event, {calls} were timed")
    return Calls(np.asarray(wall[skip:]), operators, other["DELEGATE_CALL"],
                 np.sum(outside, axis=0) if outside else np.zeros(calls), len(outside), other["Method::execute"],
                 np.asarray(bare[skip:]))


def profile(paths: dict[str, Path], frames: list[np.ndarray], rounds: int, k: int, warmup: int = 5) -> dict[str, Calls]:
    """Every program called K times per round in turn, loaded with ETDump and without it, `rounds` rounds, states
    carried (each load its own); the ETDump of each call, and the wall times of both loads."""
    import torch
    from executorch.extension.pybindings.portable_lib import _load_for_executorch, _unsafe_reset_threadpool

    _unsafe_reset_threadpool(1)
    loads = {}  # (program, ETDump on) -> [module, states, wall times]
    for name, path in paths.items():
        sidecar = json.loads(Path(f"{path}.json").read_text())
        for etdump in (True, False):
            loads[name, etdump] = [_load_for_executorch(str(path), enable_etdump=etdump),
                                   [torch.zeros(s["shape"]) for s in sidecar["inputs"][1:]], []]
    inputs = [torch.from_numpy(np.ascontiguousarray(f[None])) for f in frames]
    order = list(loads)
    for round_index in range(rounds + 1):  # round 0 warms caches, its calls are dropped
        for key in order:
            module, states, wall = loads[key]
            for index in range(k if round_index else warmup):
                frame = inputs[(round_index * k + index) % len(inputs)]
                start = time.perf_counter()
                outputs = module.forward([frame, *states])
                wall.append((time.perf_counter() - start) * 1e3)
                # Outputs live in the program's planned memory, which the next call overwrites.
                states = loads[key][1] = [o.clone() for o in outputs[1:]]
        order = order[1:] + order[:1]  # each round starts with the next load
    return {name: read_calls(loads[name, True][0], loads[name, True][2], loads[name, False][2], warmup)
            for name in paths}


def align(program: Calls, reference: Calls) -> tuple[dict[str, str], dict[str, str]]:
    """operator -> part, for a program and its reference. The two operator sequences are aligned by kind, as many
    operators matched as can be in order (a longest common subsequence); among the alignments with that many,
    the one whose matched operators take the most similar times, so each backbone operator is matched with its
    own twin and not with a shift conv of the same kind beside it. Matched operators share a backbone part; the
    rest (only in one of the two) get the part their kind says."""
    ours, theirs = list(program.operators), list(reference.operators)
    a = [float(np.median(program.operators[n])) for n in ours]
    b = [float(np.median(reference.operators[n])) for n in theirs]
    bonus = 1.0 / (len(ours) + len(theirs) + 1)  # the similarity of all matches together stays below one match
    score = np.zeros((len(ours) + 1, len(theirs) + 1))
    for i in range(1, len(ours) + 1):
        for j in range(1, len(theirs) + 1):
            best = max(score[i - 1, j], score[i, j - 1])
            if kind(ours[i - 1]) == kind(theirs[j - 1]):
                similar = 1.0 - abs(a[i - 1] - b[j - 1]) / (a[i - 1] + b[j - 1] + 1e-9)
                best = max(best, score[i - 1, j - 1] + 1.0 + bonus * similar)
            score[i, j] = best
    names_ours = {n: role(n, True) for n in ours}
    names_theirs = {n: "only in the reference: " + kind(n) for n in theirs}
    i, j = len(ours), len(theirs)
    while i and j:
        if score[i, j] == score[i - 1, j]:
            i -= 1
        elif score[i, j] == score[i, j - 1]:
            j -= 1
        else:
            names_ours[ours[i - 1]] = names_theirs[theirs[j - 1]] = role(ours[i - 1], False)
            i, j = i - 1, j - 1
    return names_ours, names_theirs


def attribute(program: Calls, reference: Calls) -> dict:
    """ms per call of each part, the program against the reference. A program's total is the sum of its parts, an
    estimate of its call without ETDump; the median wall time of those calls is given beside it."""
    names_ours, names_theirs = align(program, reference)
    ours, theirs = program.parts(names_ours), reference.parts(names_theirs)
    total_ours, total_theirs = sum(ours.values()), sum(theirs.values())
    difference = total_ours - total_theirs
    rows = []
    for part in dict.fromkeys([*ours, *theirs]):
        a, b = ours.get(part, 0.0), theirs.get(part, 0.0)
        rows.append({"part": part, "program_ms": round(a, 4), "reference_ms": round(b, 4),
                     "difference_ms": round(a - b, 4), "share": round((a - b) / difference, 4) if difference else None,
                     "operators": sum(1 for n in names_ours.values() if n == part),
                     "reference_operators": sum(1 for n in names_theirs.values() if n == part)})
    return {"program_ms": round(total_ours, 4), "reference_ms": round(total_theirs, 4),
            "ratio": round(total_ours / total_theirs, 4), "difference_ms": round(difference, 4),
            "program_wall_ms": round(float(np.median(program.bare)), 4),
            "reference_wall_ms": round(float(np.median(reference.bare)), 4),
            "calls": len(program.wall), "outside_operators": program.outside_count, "rows": rows}


def round_ratios(numerator: np.ndarray, denominator: np.ndarray, k: int) -> dict:
    """Per round the ratio of the two programs' median wall times; median and min–max over rounds."""
    a, b = (np.median(x[: len(x) // k * k].reshape(-1, k), axis=1) for x in (numerator, denominator))
    values = a / b
    return {"median": round(float(np.median(values)), 4), "min": round(float(values.min()), 4),
            "max": round(float(values.max()), 4), "rounds": len(values)}


# ---- the benchmark's comparison (runtime adapter, no ETDump) ------------------------------------------------------

def compare(paths: dict[str, Path], frames: list[np.ndarray], rounds: int, k: int) -> dict:
    from stsm_edge.benchmarks.harness import run_child

    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "frames.npy", np.stack(frames))
        job = {"members": [{"key": name, "artifact": str(path), "form": "stream"} for name, path in paths.items()],
               "threads": 1, "frames": str(Path(tmp) / "frames.npy"), "segments": 8, "rounds": rounds, "k": k,
               "warmup": 5}
        medians = run_child("compare", job, Path(tmp))["medians"]
    out = {"ms": {name: round(statistics.median(m), 4) for name, m in medians.items()}}
    for ratio, (a, b) in {"stsm_over_plain": ("stsm", "plain"), "internal_over_explicit": ("stsm_internal", "stsm"),
                          "internal_over_plain": ("stsm_internal", "plain")}.items():
        values = [x / y for x, y in zip(medians[a], medians[b])]
        out[ratio] = {"median": round(statistics.median(values), 4), "min": round(min(values), 4),
                      "max": round(max(values), 4), "rounds": len(values)}
    return out


# ---- report -------------------------------------------------------------------------------------------------------

def table(result: dict, program: str, reference: str) -> list[str]:
    lines = [f"| part | {program} ms | {reference} ms | difference ms | share of the difference | operators |",
             "|---|---:|---:|---:|---:|---|"]
    for row in sorted(result["rows"], key=lambda r: -abs(r["difference_ms"])):
        share = "" if row["share"] is None else f"{row['share']:.0%}"
        count = f"{row['operators']} / {row['reference_operators']}" if row["operators"] or row["reference_operators"] \
            else ""
        lines.append(f"| {row['part']} | {row['program_ms']:.3f} | {row['reference_ms']:.3f} | "
                     f"{row['difference_ms']:+.3f} | {share} | {count} |")
    lines.append(f"| **call: the sum of the parts** | **{result['program_ms']:.3f}** | "
                 f"**{result['reference_ms']:.3f}** | **{result['difference_ms']:+.3f}** | ×{result['ratio']:.3f} | |")
    lines.append(f"| call: median wall time without ETDump | {result['program_wall_ms']:.3f} | "
                 f"{result['reference_wall_ms']:.3f} | "
                 f"{result['program_wall_ms'] - result['reference_wall_ms']:+.3f} | "
                 f"×{result['program_wall_ms'] / result['reference_wall_ms']:.3f} | |")
    return lines


def ratio_text(r: dict) -> str:
    return f"×{r['median']:.3f} ({r['min']:.3f}–{r['max']:.3f}, {r['rounds']} rounds)"


def markdown(data: dict) -> str:
    lines = ["# ExecuTorch: where the int8 STSM stream's time goes against plain MobileNetV2", "",
             f"`{data['command']}` ({data['model']}, int8 streams, 1 thread, ExecuTorch {data['executorch']}; "
             f"{data['rounds']} rounds × {data['k']} calls of each program, loaded with ETDump and without it, "
             "interleaved). An operator part is the sum of its operators' median ms per call, each other part the "
             "median over calls of what it spends; the parts add up to an estimate of the call without ETDump, "
             "its measured median is the row below. Operators: the program's / the reference's count in that part. "
             "Read with benchmarks/results/et_attribution_notes.md.", ""]
    for key, title in (("stsm_vs_plain", "STSM (states carried) against plain"),
                       ("internal_vs_plain", "STSM (states inside) against plain"),
                       ("internal_vs_explicit", "STSM, states inside against states carried")):
        program, reference = data["pairs"][key]
        lines += [f"## {title}", "", *table(data[key], program, reference), "",
                  f"Per round, ratio of median wall times of the loads without ETDump: {ratio_text(data['etdump_ratios'][key])}.", ""]
    compared = data["compare"]
    lines += ["## Through the runtime adapter, without ETDump (the benchmark's comparison)", "",
              "ms per call (median of round medians): " + ", ".join(f"{n} {ms:.3f}" for n, ms in compared["ms"].items())
              + ".", "",
              f"- STSM (carried) ÷ plain: {ratio_text(compared['stsm_over_plain'])}",
              f"- STSM (inside) ÷ STSM (carried): {ratio_text(compared['internal_over_explicit'])}",
              f"- STSM (inside) ÷ plain: {ratio_text(compared['internal_over_plain'])}", ""]
    return "\n".join(lines)


def run(settings, rounds: int, k: int, compare_rounds: int, folder: Path, results: Path, command: str,
        log=print) -> dict:
    from importlib.metadata import version

    from stsm_edge.benchmarks.harness import real_frames

    paths = export(settings, folder, log)
    frames = real_frames("vtest.avi", settings.bench_frames, settings.size)
    log(f"ETDump: {rounds} rounds x {k} calls of each program")
    calls = profile(paths, frames, rounds, k)
    pairs = {"stsm_vs_plain": ("stsm", "plain"), "internal_vs_plain": ("stsm_internal", "plain"),
             "internal_vs_explicit": ("stsm_internal", "stsm")}
    data = {"command": command,
            "model": f"{settings.tag()}", "executorch": version("executorch"), "rounds": rounds, "k": k,
            "pairs": pairs,
            **{key: attribute(calls[a], calls[b]) for key, (a, b) in pairs.items()},
            "etdump_ratios": {key: round_ratios(calls[a].bare, calls[b].bare, k) for key, (a, b) in pairs.items()}}
    log(f"adapter comparison: {compare_rounds} rounds x {k}")
    data["compare"] = compare(paths, frames, compare_rounds, k)
    results.mkdir(parents=True, exist_ok=True)
    (results / "et_attribution.json").write_text(json.dumps(data, indent=1))
    (results / "et_attribution.md").write_text(markdown(data))
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_flag(parser, BenchFlags.quick)
    add_flag(parser, BenchFlags.rounds, type=int, default=40)
    add_flag(parser, BenchFlags.repeats, type=int, default=5, dest="k")
    add_flag(parser, BenchFlags.results_dir, type=Path, help="default benchmarks/results (--quick: its own folder)")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    from stsm_edge.benchmarks.harness import Settings

    settings = Settings.quick_settings() if args.quick else Settings()
    rounds = 3 if args.quick else args.rounds
    folder = settings.artifacts_dir / "et_attribution" / settings.tag()
    data = run(settings, rounds, args.k, rounds, folder, args.results_dir or settings.results_dir,
               " ".join([COMMAND, *argv]), lambda text: print(f"[et_attribution] {text}", file=sys.stderr, flush=True))
    for key in data["pairs"]:
        print(f"{key}: x{data[key]['ratio']:.3f}, {data[key]['difference_ms']:+.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
