"""Drive a phone over adb: push artifacts and real inputs, run the vendors' benchmark tools, write a results file.

    python -m stsm_edge.benchmarks android --artifact out/stsm_stream_int8.pte --artifact out/stsm_stream_int8.tflite \
        --executor-runner ~/executorch/cmake-android-out/executor_runner \
        --benchmark-model ~/Downloads/android_aarch64_benchmark_model [--serial SERIAL] [--threads 1,4]

.pte files run under ExecuTorch's `executor_runner` (--model_path, --inputs, --num_executions, --cpu_threads);
.tflite files under TFLite's `benchmark_model` (--graph, --num_threads, --num_runs, --warmup_runs,
--use_xnnpack, --input_layer_value_files). Inputs are real: a preprocessed vtest.avi frame (a T-frame clip
for clip artifacts) and, for streams, the states the artifact itself produced on the frames before it (run
here on the host when its runtime is installed; zeros otherwise), written as raw tensors in each input's
dtype (int8 inputs quantized with the sidecar's scale/zero-point). Output is parsed (parsers.py) into the
results schema and written to benchmarks/results/<device>.json. `--demo-results FILE` merges a results file
pulled from the demo app's benchmark mode. Step-by-step instructions: benchmarks/android/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from stsm_edge.benchmarks import schema
from stsm_edge.benchmarks.android.parsers import parse_benchmark_model, parse_executor_runner
from stsm_edge.benchmarks.device import ARM_FLAGS, slug

from stsm_edge.options import BenchFlags, RunnerFlags, add_flag

REMOTE = "/data/local/tmp/stsm-bench"
HERE = Path(__file__).resolve().parents[1]
DTYPES = {"float32": np.float32, "float16": np.float16, "int8": np.int8, "uint8": np.uint8}


class Adb:
    """adb with an optional serial; `run` returns stdout+stderr text and raises on a non-zero exit."""

    def __init__(self, serial: str | None = None, adb: str = "adb") -> None:
        self.base = [adb] + (["-s", serial] if serial else [])

    def run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(self.base + list(args), capture_output=True, text=True, check=False)
        out = proc.stdout + proc.stderr
        if check and proc.returncode != 0:
            raise RuntimeError(f"adb {' '.join(args[:2])} failed (exit {proc.returncode}): {out.strip().splitlines()[-1:] or ''}")
        return out

    def shell(self, command: str, check: bool = True) -> str:
        return self.run("shell", command, check=check)

    def push(self, local: Path, remote: str) -> None:
        self.run("push", str(local), remote)


def device_fingerprint(adb: Adb, name: str | None = None) -> dict:
    prop = lambda key: adb.shell(f"getprop {key}", check=False).strip()
    cpuinfo = adb.shell("cat /proc/cpuinfo", check=False)
    features = set()
    hardware = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Features":
            features |= set(value.split())
        if key.strip() == "Hardware":
            hardware = value.strip()
    meminfo = adb.shell("cat /proc/meminfo", check=False)
    ram = next((int(line.split()[1]) / 2**20 for line in meminfo.splitlines() if line.startswith("MemTotal:")), None)
    model, manufacturer = prop("ro.product.model"), prop("ro.product.manufacturer")
    soc = prop("ro.soc.model") or hardware or prop("ro.board.platform")
    cores = adb.shell("nproc", check=False).strip()
    return {
        "name": name or slug(f"{manufacturer} {model}"), "cpu": soc or "unknown",
        "cores": int(cores) if cores.isdigit() else 1,
        "isa": [label for flag, label in ARM_FLAGS.items() if flag in features],
        "os": f"Android {prop('ro.build.version.release')} (SDK {prop('ro.build.version.sdk')})",
        "ram_gb": round(ram, 1) if ram else None, "runtimes": {}, "model": model, "manufacturer": manufacturer,
        "abi": prop("ro.product.cpu.abi"),
        "android_sdk": int(prop("ro.build.version.sdk")) if prop("ro.build.version.sdk").isdigit() else 0,
    }


def real_inputs(artifact: Path, sidecar: dict, warm_frames: int = 8) -> list[np.ndarray]:
    """Float inputs in sidecar order: a real frame (or clip) and, for streams, the states before it."""
    from stsm_edge.benchmarks.harness import real_frames

    size = sidecar["preprocess"]["size"][0]
    segments = int(sidecar["model"]["n_segments"])
    frames = real_frames("vtest.avi", max(warm_frames, segments) + 1, size)
    if sidecar["form"] == "clip":
        return [np.stack(frames[:segments])[None]]
    states = [np.zeros(s["shape"], np.float32) for s in sidecar["inputs"][1:]]
    try:
        from stsm_edge.runtimes.base import open_runtime

        runtime = open_runtime(artifact, sidecar)
        for frame in frames[:-1]:
            states = runtime.run([frame[None], *states])[1:]
    except Exception as exc:  # noqa: BLE001 - the host may lack this runtime; zero states still time the same
        print(f"[android] {artifact.name}: host run unavailable ({exc}); using zero states", file=sys.stderr)
    return [frames[-1][None], *states]


def write_inputs(sidecar: dict, inputs: list[np.ndarray], folder: Path) -> list[Path]:
    from stsm_edge.runtimes.base import quantize

    paths = []
    for spec, array in zip(sidecar["inputs"], inputs):
        q = spec.get("quantization")
        data = quantize(array, q) if q else array.astype(DTYPES.get(spec.get("dtype", "float32"), np.float32))
        path = folder / f"{spec['name']}.bin"
        path.write_bytes(np.ascontiguousarray(data).tobytes())
        paths.append(path)
    return paths


def tflite_input_names(artifact: Path, sidecar: dict) -> list[str]:
    """The flatbuffer tensor names of the signature inputs, in sidecar order (benchmark_model wants those)."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(artifact))
        signature = sidecar.get("signature", "serving_default")
        mapping = interpreter._get_full_signature_list()[signature]["inputs"]  # name -> tensor index
        names = {d["index"]: d["name"] for d in interpreter.get_tensor_details()}
        return [names[mapping[spec["name"]]] for spec in sidecar["inputs"]]
    except Exception:  # noqa: BLE001 - fall back to the sidecar's names
        return [spec["name"] for spec in sidecar["inputs"]]


def run_artifact(adb: Adb, artifact: Path, sidecar: dict, tools: dict, threads: int, runs: int, warmup: int,
                 workdir: Path) -> dict:
    remote = f"{REMOTE}/{artifact.name.replace('.', '_')}"
    adb.shell(f"mkdir -p {remote}")
    adb.push(artifact, f"{remote}/{artifact.name}")
    inputs = write_inputs(sidecar, real_inputs(artifact, sidecar), workdir)
    for path in inputs:
        adb.push(path, f"{remote}/{path.name}")
    remote_inputs = [f"{remote}/{p.name}" for p in inputs]
    if artifact.suffix == ".pte":
        command = (f"{REMOTE}/executor_runner --model_path={remote}/{artifact.name} --inputs={','.join(remote_inputs)} "
                   f"--num_executions={runs} --cpu_threads={threads}")
        parsed = parse_executor_runner(adb.shell(command))
        version = tools.get("executorch_version")
    elif artifact.suffix == ".tflite":
        names = [n.replace(":", "::") for n in tflite_input_names(artifact, sidecar)]
        files = ",".join(f"{n}:{p}" for n, p in zip(names, remote_inputs))
        command = (f"{REMOTE}/benchmark_model --graph={remote}/{artifact.name} --num_threads={threads} "
                   f"--num_runs={runs} --warmup_runs={warmup} --use_xnnpack=true "
                   f"--input_layer_value_files={shlex.quote(files)}")
        parsed = parse_benchmark_model(adb.shell(command))
        version = tools.get("tflite_version")
    else:
        raise ValueError(f"{artifact}: the adb driver runs .pte and .tflite artifacts")
    from stsm_edge.benchmarks.harness import describe

    info = describe(artifact, sidecar)
    frames_per_call = 1 if info.form == "stream" else info.segments
    return {
        "artifact": artifact.name, "target": info.target, "form": info.form, "precision": info.precision,
        "model": info.model, "threads": threads, "metric": info.metric, **parsed,
        "fps": round(1e3 * frames_per_call / parsed["mean"], 2), "size_bytes": info.size_bytes,
        "state_bytes": info.state_bytes, "segments": info.segments, "runtime_version": version,
    }


def run(args: argparse.Namespace, adb: Adb | None = None) -> Path:
    from stsm_edge.sidecar import read_sidecar

    adb = adb or Adb(args.serial, args.adb)
    started = dt.datetime.now(dt.UTC)
    adb.shell(f"mkdir -p {REMOTE}")
    tools = {}
    for flag, name in ((args.executor_runner, "executor_runner"), (args.benchmark_model, "benchmark_model")):
        if flag:
            adb.push(Path(flag), f"{REMOTE}/{name}")
            adb.shell(f"chmod +x {REMOTE}/{name}")
    tools["executorch_version"] = args.executorch_version
    tools["tflite_version"] = args.tflite_version
    device = device_fingerprint(adb, args.device_name)
    device["runtimes"] = {k: v for k, v in (("executorch", args.executorch_version),
                                            ("tflite", args.tflite_version)) if v}
    rows = []
    with tempfile.TemporaryDirectory(prefix="stsm-android-") as tmp:
        for artifact in args.artifact:
            needs = "executor_runner" if artifact.suffix == ".pte" else "benchmark_model"
            if (artifact.suffix == ".pte" and not args.executor_runner) or \
                    (artifact.suffix == ".tflite" and not args.benchmark_model):
                print(f"[android] skipping {artifact.name}: pass --{needs.replace('_', '-')}", file=sys.stderr)
                continue
            for threads in args.threads:
                print(f"[android] {artifact.name}, {threads} thread(s)", file=sys.stderr)
                folder = Path(tmp) / f"{artifact.name}_{threads}"
                folder.mkdir()
                rows.append(run_artifact(adb, artifact, read_sidecar(artifact), tools, threads, args.runs,
                                         args.warmup, folder))
    for extra in args.demo_results:
        rows += [dict(r, source=r.get("source", "demo")) for r in schema.load(extra)["results"]]
    data = {"schema": schema.SCHEMA_NAME, "version": schema.VERSION, "date": started.isoformat(timespec="seconds"),
            "tool": "stsm-edge benchmarks android (adb)", "device": device, "results": rows,
            "settings": {"runs": args.runs, "warmup": args.warmup, "threads": args.threads,
                         "input": "real preprocessed vtest.avi frame(s); stream states from the frames before"}}
    return schema.write(Path(args.results_dir) / f"{device['name']}.json", data)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m stsm_edge.benchmarks android", description=__doc__.splitlines()[0])
    add_flag(p, BenchFlags.artifact, action="append", type=Path, default=[], required=True,
             help=".pte or .tflite (repeatable)")
    p.add_argument("--executor-runner", help="host path of ExecuTorch's executor_runner built for Android (arm64)")
    p.add_argument("--benchmark-model", help="host path of TFLite's benchmark_model for Android (arm64)")
    p.add_argument("--executorch-version", help="version the runner was built from (recorded in the results)")
    p.add_argument("--tflite-version", help="version of benchmark_model (recorded in the results)")
    p.add_argument("--serial", help="adb device serial (default: the only device)")
    p.add_argument("--adb", default="adb")
    add_flag(p, RunnerFlags.threads, type=lambda s: [int(t) for t in s.split(",")], default=[1, 4],
             help="comma-separated thread counts")
    add_flag(p, BenchFlags.runs, type=int, default=100)
    add_flag(p, BenchFlags.warmup, type=int, default=10, help="benchmark_model warm-up runs (executor_runner has none)")
    p.add_argument("--demo-results", action="append", type=Path, default=[],
                   help="a results file pulled from the demo app's benchmark mode, merged in")
    add_flag(p, BenchFlags.device_name)
    add_flag(p, BenchFlags.results_dir, type=Path, default=HERE / "results")
    return p.parse_args(argv)


def main(argv: list[str] | None = None, adb: Adb | None = None) -> int:
    from stsm_edge.errors import StsmEdgeError

    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        path = run(args, adb)
    except (StsmEdgeError, RuntimeError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
