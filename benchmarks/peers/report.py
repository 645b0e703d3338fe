"""The peers benchmark's arithmetic and report, from its results file alone (no torch, no runtime).

    .venv/bin/python -m stsm_edge.benchmarks.peers.report [benchmarks/results/peers.json]

Cost per second of live video = ms per model step x model steps per second. A model's best form is the faster
(by median over rounds) of its fp32 row and its int8 row, int8 only where it agrees with fp32 on at least the
results' `agreement_min` of the steps. Every ratio is taken per round (both costs from the same round of the
interleaved run) and reported as median and min-max over the rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from stsm_edge.fileio import atomic_write_text

SUBJECTS = ("stsm_112", "stsm_224", "stsm_160", "stsm_128", "stsm_224_w0.5", "stsm_112_ort")
PEERS = ("movinet_a0_stream", "x3d_xs", "tsm_224", "plain_224", "x3d_xs_ort")
NAMES = {
    "stsm_112_ort": "STSM causal 112² (default model), ONNX Runtime", "x3d_xs_ort": "X3D-XS 4x160², ONNX Runtime",
    "stsm_112": "STSM causal 112² (default model)", "stsm_224": "STSM causal 224² (ImageNet)",
    "stsm_160": "STSM causal 160²", "stsm_128": "STSM causal 128²", "stsm_224_w0.5": "STSM causal 224², width 0.5",
    "movinet_a0_stream": "MoViNet-A0-Stream 172²", "x3d_xs": "X3D-XS 4x160²",
    "tsm_224": "TSM online MobileNetV2 224²", "plain_224": "MobileNetV2 per frame 224²",
}
GOALS = (  # (subject, peer, at most, the wording)
    ("stsm_112", "movinet_a0_stream", 0.5, "STSM causal 112² ≤ 0.5x MoViNet-A0-Stream"),
    ("stsm_112", "x3d_xs", 0.25, "STSM causal 112² ≤ 0.25x X3D-XS"),
    ("stsm_112_ort", "x3d_xs_ort", 0.25, "STSM causal 112² ≤ 0.25x X3D-XS (ONNX Runtime: X3D-XS has no LiteRT form)"),
    ("stsm_224", "movinet_a0_stream", 1.0, "a 224²-class STSM ≤ 1x MoViNet-A0-Stream"),
    ("stsm_160", "movinet_a0_stream", 1.0, "  option: 160²"),
    ("stsm_128", "movinet_a0_stream", 1.0, "  option: 128²"),
    ("stsm_224_w0.5", "movinet_a0_stream", 1.0, "  option: width 0.5"),
)


def costs(row: dict) -> list[float]:
    """ms of video-processing per second of live video, per round."""
    return [ms / row["step_s"] for ms in row["times"]]


def best_rows(results: dict) -> dict[str, dict]:
    """model -> its best row (see the module docstring)."""
    eligible: dict[str, list[dict]] = {}
    for row in results["rows"]:
        if row["precision"] == "fp32" or row["agreement"] is None or row["agreement"] >= results["agreement_min"]:
            eligible.setdefault(row["model"], []).append(row)
    return {model: min(rows, key=lambda r: statistics.median(r["times"])) for model, rows in eligible.items()}


def ratio(subject: dict, peer: dict) -> dict:
    """subject's cost per second of video / peer's, per round: median, min, max."""
    per_round = [a / b for a, b in zip(costs(subject), costs(peer))]
    return {"median": statistics.median(per_round), "min": min(per_round), "max": max(per_round),
            "subject": subject["key"], "peer": peer["key"]}


def ratios(results: dict) -> dict[str, dict]:
    """"subject/peer" -> ratio of best forms, for every subject and peer present on the same runtime; plus
    MoViNet's two forms apiece."""
    best = best_rows(results)
    found = {}
    for subject in (s for s in SUBJECTS if s in best):
        runtime = best[subject]["runtime"]
        for peer in (p for p in PEERS if p in best and best[p]["runtime"] == runtime):
            found[f"{subject}/{peer}"] = ratio(best[subject], best[peer])
        for row in (r for r in results["rows"] if r["model"] == "movinet_a0_stream" and r["runtime"] == runtime):
            found[f"{subject}/{row['key']}"] = ratio(best[subject], row)
    return found


def other_forms(results: dict) -> dict[str, dict]:
    """"subject:form/peer" -> the same ratios for each subject's form that is not its best (an int8 under the
    agreement bar, or the slower form), against the peers' best forms: what that form would cost."""
    best = best_rows(results)
    found = {}
    for row in (r for r in results["rows"] if r["model"] in SUBJECTS and best[r["model"]] is not r):
        for peer in (p for p in PEERS if p in best and best[p]["runtime"] == row["runtime"]):
            found[f"{row['key']}/{peer}"] = ratio(row, best[peer])
    return found


def _span(r: dict) -> str:
    return f"x{r['median']:.3f} ({r['min']:.3f}-{r['max']:.3f})"


def _load(results: dict) -> str:
    """The machine's 1-minute load average before and after the timing, where the run recorded it."""
    if "load_average" not in results:
        return ""
    before, after = results["load_average"]
    return f"; load average {before:.2f} before the timing, {after:.2f} after"


def render(results: dict) -> str:
    best = best_rows(results)
    found = ratios(results)
    device = results["device"]
    lines = [
        "# Peers: STSM causal against what a user would pick instead",
        "",
        f"Measured {results['created']} on {device.get('cpu', '?')} ({device.get('cores', '?')} cores"
        f"{_load(results)}), {results['runtime']}; {results['rounds']} rounds x {results['k']} runs per artifact, "
        "interleaved in a rotating order. Command: `" + results["command"] + "`.",
        "",
        "Cost per second of video = ms per step x steps per second. **best** marks the form each ratio uses: the "
        f"faster of fp32 and int8, int8 only where its top-1 agrees with fp32 on ≥ {results['agreement_min']:.0%} "
        f"of the steps of {' and '.join(results['agreement_videos'])} (int8 calibrated on "
        f"{results['calibration_video']}).",
        "",
        "| model | form | runtime | ms/step median (min-max over rounds) | step | steps/s | ms per s of video | params | "
        "GFLOPs/step | size MB | int8 top-1 = fp32 | int8 logits corr. | best |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        times = row["times"]
        agreement = (f"{row['agreement']:.1%} of {row['agreement_steps']}" if row["agreement"] is not None else "")
        lines.append(
            f"| {NAMES.get(row['model'], row['model'])} | {row['precision']} | {row['runtime']} | "
            f"{statistics.median(times):.3f} "
            f"({min(times):.3f}-{max(times):.3f}) | {row['step_s'] * 1e3:.0f} ms | {1 / row['step_s']:.3f} | "
            f"{statistics.median(costs(row)):.2f} | {row['params'] / 1e6:.2f} M | {row['gflops']:.3f} | "
            f"{row['size_bytes'] / 1e6:.2f} | {agreement} | "
            f"{'' if row['correlation'] is None else format(row['correlation'], '.3f')} | "
            f"{'best' if best.get(row['model']) is row else ''} |")
    lines += ["", "Steps: " + "; ".join(sorted({f"{NAMES.get(r['model'], r['model'])}: {r['step_source']}"
                                             for r in results["rows"]})) + ".", ""]
    lines += ["## Ratios: STSM's cost per second of video ÷ each peer's (best forms, same runtime, per round)", "",
              "| STSM | " + " | ".join(NAMES[p] for p in PEERS if p in best) + " | MoViNet fp32 | MoViNet int8 |",
              "|---" * (3 + sum(p in best for p in PEERS)) + "|"]
    for subject in (s for s in SUBJECTS if s in best):
        cells = [_span(found[f"{subject}/{p}"]) if f"{subject}/{p}" in found else "" for p in PEERS if p in best]
        cells += [_span(found[k]) if k in found else "" for k in
                  (f"{subject}/movinet_a0_stream:fp32", f"{subject}/movinet_a0_stream:int8")]
        lines.append(f"| {NAMES[subject]} ({best[subject]['precision']}) | " + " | ".join(cells) + " |")
    others = other_forms(results)
    lines += ["", "The same, for each STSM form that is not its best (against the peers' best forms):", "",
              "| STSM form | " + " | ".join(NAMES[p] for p in PEERS if p in best) + " |",
              "|---" * (1 + sum(p in best for p in PEERS)) + "|"]
    for row in (r for r in results["rows"] if r["model"] in SUBJECTS and best[r["model"]] is not r):
        cells = [_span(others[f"{row['key']}/{p}"]) if f"{row['key']}/{p}" in others else "" for p in PEERS if p in best]
        why = ("int8 under the agreement bar" if row["precision"] == "int8" and row["agreement"] is not None
               and row["agreement"] < results["agreement_min"] else "the slower form")
        lines.append(f"| {NAMES[row['model']]} {row['precision']} ({why}) | " + " | ".join(cells) + " |")
    lines += ["", "## Goals", "", "| goal | measured (median, min-max) | met |", "|---|---|---|"]
    for subject, peer, bound, wording in GOALS:
        key = f"{subject}/{peer}"
        if key in found:
            r = found[key]
            met = "yes" if r["max"] <= bound else "yes (median)" if r["median"] <= bound else "**no**"
            lines.append(f"| {wording} | {_span(r)} | {met} |")
    lines += ["", "## Published figures (not measured here)", ""]
    lines += [f"- {NAMES.get(k, k)}: {v}" for k, v in results["published"].items()]
    if results["not_built"]:
        lines += ["", "## Not built here", ""] + [f"- {reason}" for reason in results["not_built"]]
    return "\n".join(lines) + "\n"


def write(results: dict, json_path: Path, md_path: Path) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(json_path, json.dumps(results, indent=1) + "\n")
    atomic_write_text(md_path, render(results))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=Path(__file__).resolve().parents[1] / "results"
                        / "peers.json", help="the peers results file")
    print(render(json.loads(parser.parse_args(argv).results.read_text())))


if __name__ == "__main__":
    main()
