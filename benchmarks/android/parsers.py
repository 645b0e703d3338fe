"""Parsers for what the on-device benchmark tools print, into the fields of a results row.

ExecuTorch `executor_runner` (examples/portable/executor_runner) logs one total over all executions:

    I 00:00:01.234567 executorch:executor_runner.cpp:312] Model executed successfully 50 time(s) in 1234.567000 ms.

so only a mean is known (p50/p90/p99 are null); the first, untimed-by-nobody run is inside the total.

TFLite `benchmark_model` prints one Stat line per phase (warm-up, then inference), in microseconds:

    count=50 first=22417 curr=21559 min=21271 max=23417 avg=21793.4 std=468
    count=1000 first=52162 curr=49785 min=49088 max=686105 avg=63743.2 std=60716 p5=49620 median=51891 p95=68628
    count=5 curr=21000(all same)

(newer builds add p5/median/p95; the median becomes p50, p90/p99 stay null), then

    Inference timings in us: Init: 7181, First inference: 27034, Warmup (avg): 22396.7, Inference (avg): 21793.4
    Peak memory footprint (MB): init=3.2 overall=15.1     (older: "Memory footprint delta from the start ...")
"""

from __future__ import annotations

import re

from stsm_edge.errors import StsmEdgeError


class ToolOutputError(StsmEdgeError):
    """Tool output without the lines a parser needs."""


_ET_RUN = re.compile(r"Model executed successfully (\d+) time\(s\)(?: in ([0-9.]+) ms)?")
_STAT = re.compile(r"count=(\d+)(?P<rest>[^\n]*)")
_FIELD = re.compile(r"(\w+)=(-?[0-9.eE+]+)")
_TIMINGS = re.compile(r"Inference timings in us:(?P<rest>[^\n]*)")
_MEMORY = re.compile(r"(?:Peak memory footprint|Memory footprint delta from the start of the tool) \(MB\): "
                     r"init=([0-9.eE+-]+) overall=([0-9.eE+-]+)")


def parse_executor_runner(text: str) -> dict:
    """executor_runner output -> {"iterations", "mean", "p50": None, ...} (milliseconds)."""
    runs = _ET_RUN.findall(text)
    if not runs:
        raise ToolOutputError("executor_runner output has no 'Model executed successfully N time(s) in X ms.' line "
                              "(did the run fail? is the runner older than the timed log line?)")
    count, total = runs[-1]
    if not total:
        raise ToolOutputError("executor_runner printed no total time ('... time(s).' without 'in X ms'); "
                              "use a runner built from ExecuTorch >= 0.4")
    count = int(count)
    if count < 1:
        raise ToolOutputError("executor_runner ran the model 0 times")
    mean = float(total) / count
    return {"iterations": count, "warmup": 0, "mean": mean, "p50": None, "p90": None, "p99": None,
            "total_ms": float(total), "source": "executor_runner"}


def _stat(line_rest: str, count: int) -> dict:
    fields = {k: float(v) for k, v in _FIELD.findall(line_rest)}
    if "(all same)" in line_rest and "curr" in fields:
        value = fields["curr"]
        fields.update(first=value, min=value, max=value, avg=value, std=0.0, median=value)
    fields["count"] = count
    return fields


def parse_benchmark_model(text: str) -> dict:
    """benchmark_model output -> a results row's timing fields (milliseconds)."""
    stats = [_stat(m.group("rest"), int(m.group(1))) for m in _STAT.finditer(text)]
    stats = [s for s in stats if "avg" in s]
    if not stats:
        raise ToolOutputError("benchmark_model output has no 'count=... avg=...' timing line (did the run fail?)")
    inference = stats[-1]
    warmup = stats[0] if len(stats) > 1 else None
    us = 1e-3
    row = {
        "iterations": int(inference["count"]), "warmup": int(warmup["count"]) if warmup else 0,
        "mean": inference["avg"] * us, "p50": inference["median"] * us if "median" in inference else None,
        "p90": None, "p99": None, "min": inference.get("min", inference["avg"]) * us,
        "max": inference.get("max", inference["avg"]) * us, "std": inference.get("std", 0.0) * us,
        "source": "benchmark_model",
    }
    timings = _TIMINGS.search(text)
    if timings:
        parts = dict(re.findall(r"([A-Za-z][A-Za-z ()]*?):\s*([0-9.eE+-]+)", timings.group("rest")))
        parts = {k.strip(): float(v) for k, v in parts.items()}
        if "Init" in parts:
            row["load_ms"] = parts["Init"] * us
        if "First inference" in parts:
            row["first_ms"] = parts["First inference"] * us
        if "Inference (avg)" in parts:
            row["mean"] = parts["Inference (avg)"] * us
    memory = _MEMORY.search(text)
    if memory:
        row["peak_rss_mb"] = float(memory.group(2))
    return row
