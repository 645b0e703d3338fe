"""The benchmark harness: export (or take) artifacts, profile each one, compare them interleaved, write results.

    python -m stsm_edge.benchmarks run                      # this machine: export/reuse, profile, compare, results + report
    python -m stsm_edge.benchmarks run --quick --targets onnx   # tiny model, seconds: the smoke run the tests use
    python -m stsm_edge.benchmarks run --artifact a.pte --artifact b.tflite   # only these artifacts

Steps:
1. Artifacts. Either those given with --artifact (each with its sidecar), or a fresh export of
   STSM-MobileNetV2 (causal, 224², ImageNet weights: `--imagenet`), plain MobileNetV2 (no shift) and TSM-MobileNetV2 (temporal
   shift only, causal) for every target: STSM in fp32 and int8, stream and clip; plain and TSM as streams in
   fp32 and int8; where the target can keep a stream's states inside the program (ExecuTorch), STSM streams in
   fp32 and int8 so too. Calibrated on box.mp4, verified on cup.mp4 (export_artifact does both). Exports are cached
   under --artifacts and reused while model, preprocessing, weights, tool versions and converter code still match.
   Eager PyTorch (the same STSM model, stream and clip) is the reference point.
2. Profiles, one child process per (artifact, threads): load time, first run, warm-up, then timed runs on
   real preprocessed frames (vtest.avi) until both a minimum count and a minimum time are reached; p50, p90,
   p99, mean, fps, peak RSS; a thread sweep 1, 2, 4, ... up to the cores available.
3. Comparisons, one child process per target and thread count (1 and 2; --quick: 1): every artifact of the target (and eager PyTorch)
   runs K times in alternation per round, so machine drift hits all alike; per round a ratio of medians;
   reported as median and min/max over the rounds: shift overhead vs plain and vs TSM, int8/fp32,
   stream-frame/clip, eager/artifact, states inside / states carried.
4. Runner overhead, one child process per int8 stream of the shipped default model (112², exported per target
   and cached like the rest; --quick: this run's STSM int8 streams; every stream artifact given with --artifact),
   1 thread: `FrameBufferRunner.step` on raw 640x480 frames of a real video (cup.mp4), interleaved
   with `preprocess` and `Runtime.stream` alone on the same frames; per round the ratio step / stream of
   the medians (what the runner adds to the model call: preprocessing, states, smoothing, top-k).
5. The results file benchmarks/results/<device>.json (schema.json), then the report (report.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from stsm_edge.benchmarks import device as device_info
from stsm_edge.benchmarks import schema

from stsm_edge.options import BenchFlags, ModelFlags, RunnerFlags, add_flag

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
TARGETS = ("executorch", "tflite", "onnx")
MODELS = ("stsm", "plain", "tsm")
# Each model family is one preset of stsm_edge.architectures.PRESETS, in its streamable (causal) form.
MODEL_PRESETS = {"stsm": "stsm_causal", "plain": "tsn", "tsm": "tsm_online"}


@dataclass
class Settings:
    targets: tuple[str, ...] = TARGETS
    size: int = 224
    width_mult: float = 1.0
    segments: int = 8
    num_classes: int = 1000
    weights: str = "imagenet"          # "imagenet" | "random"
    calibration_frames: int = 64
    verification_frames: int = 32
    bench_frames: int = 32
    threads: tuple[int, ...] = ()      # () = 1, 2, 4, ... up to the cores available
    warmup: int = 10
    min_iterations: int = 50
    min_seconds: float = 3.0
    max_iterations: int = 2000
    rounds: int = 10
    k: int = 10
    compare_warmup: int = 5
    runner_video: str = "cup.mp4"
    runner_frame: tuple[int, int] = (640, 480)  # (width, height): a camera's usual VGA frame
    # Whose int8 streams the runner overhead is measured on: the shipped default model (what the demo and
    # the apps run, at its own size), or "bench" (this run's STSM streams: --quick, seconds).
    runner_model: str = "default"
    compare_threads: tuple[int, ...] = (1, 2)  # thread counts of the interleaved comparisons
    variants: str = "full"             # "full" | "minimal" (--quick: 5 artifacts per target, every ratio once)
    eager: bool = True
    quick: bool = False
    artifacts_dir: Path = HERE / "artifacts"
    results_dir: Path = HERE / "results"
    report_dir: Path = HERE / "report"
    device_name: str | None = None
    given: tuple[Path, ...] = ()
    log: bool = True

    @classmethod
    def quick_settings(cls, **overrides) -> Settings:
        base = HERE / "artifacts" / "quick"
        values = {"size": 96, "width_mult": 0.35, "segments": 4, "num_classes": 10, "weights": "random",
                  "calibration_frames": 8, "verification_frames": 6, "bench_frames": 8, "threads": (1,), "warmup": 2,
                  "min_iterations": 5, "min_seconds": 0.0, "max_iterations": 5, "rounds": 3, "k": 3,
                  "compare_warmup": 1, "variants": "minimal", "quick": True,
                  "runner_model": "bench", "compare_threads": (1,), "artifacts_dir": base,
                  "results_dir": base / "results", "report_dir": base / "report"}
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["max_iterations"] = max(values["max_iterations"], values["min_iterations"])
        return cls(**values)

    def tag(self) -> str:
        return f"{self.size}px_w{self.width_mult:g}_T{self.segments}_{self.weights}_k{self.num_classes}"

    def thread_counts(self) -> list[int]:
        if self.threads:
            return list(self.threads)
        cores, counts, n = device_info.available_cores(), [], 1
        while n < cores:
            counts.append(n)
            n *= 2
        return counts + [cores]


@dataclass
class Artifact:
    path: Path
    target: str
    model: str
    form: str
    precision: str
    segments: int
    size_bytes: int
    state_bytes: int
    sidecar: dict = field(default_factory=dict)
    state: str = "explicit"  # a stream's states carried by the caller, or kept inside the program ("internal")

    @property
    def key(self) -> str:
        return f"{self.target}:{self.model}:{self.form}:{self.precision}" + (":internal" if self.internal else "")

    @property
    def internal(self) -> bool:
        return self.state == "internal"

    @property
    def metric(self) -> str:
        return "frame_latency_ms" if self.form == "stream" else "clip_latency_ms"


def say(settings: Settings, text: str) -> None:
    if settings.log:
        print(f"[bench] {text}", file=sys.stderr, flush=True)


# ---- artifacts ------------------------------------------------------------------------------------

def variants(settings: Settings, keeps_state_inside: bool = False) -> list[tuple[str, str, str, str]]:
    """(model, form, precision, state) to export per target; STSM streams with internal state too where the
    target can keep it inside."""
    if settings.variants == "minimal":  # still every ratio: int8/fp32 on streams, stream/clip in int8
        out = [("stsm", "stream", "fp32"), ("stsm", "stream", "int8"), ("stsm", "clip", "int8"),
               ("plain", "stream", "int8"), ("tsm", "stream", "int8")]
        internal = [("stsm", "stream", "int8", "internal")]
    else:
        out = [("stsm", form, precision) for form in ("stream", "clip") for precision in ("fp32", "int8")]
        side = ("fp32", "int8")
        out += [(model, "stream", precision) for model in ("plain", "tsm") for precision in side]
        internal = [("stsm", "stream", precision, "internal") for precision in side]
    return [(*v, "explicit") for v in out] + (internal if keeps_state_inside else [])


def model_family(model_config: dict) -> str:
    """The family of a sidecar's model config; another preset (or a custom shift) is named as it is."""
    from stsm_edge.architectures import ShiftConfig, preset_name

    name = preset_name(ShiftConfig(model_config["dims"], model_config["fold_div"], model_config["causal"]))
    return next((family for family, preset in MODEL_PRESETS.items() if preset == name), name)


def build(model: str, settings: Settings):
    """A model of the family with its labels, preprocessing and provenance."""
    import torch

    from stsm_edge.architectures import PRESETS
    from stsm_edge.assets import imagenet_weights_path
    from stsm_edge.defaults import IMAGENET_CONFIG
    from stsm_edge.fileio import file_sha256
    from stsm_edge.models import ModelConfig, build_model
    from stsm_edge.models.weights import load_registered
    from stsm_edge.preprocess import PreprocessSpec

    shift = PRESETS[MODEL_PRESETS[model]]
    config = ModelConfig(**{**IMAGENET_CONFIG.to_dict(), "dims": shift.dims, "fold_div": shift.fold_div,
                            "causal": shift.causal,
                            "n_segments": settings.segments, "width_mult": settings.width_mult,
                            "num_classes": settings.num_classes})
    torch.manual_seed(0)
    net = build_model(config).eval()
    source = {"weights": settings.weights, "bench": settings.tag()}
    if settings.weights == "imagenet":
        from stsm_edge.assets import imagenet_labels

        path = imagenet_weights_path()
        load_registered(net, "imagenet")
        labels = imagenet_labels()
        source.update(checkpoint=path.name, sha256=file_sha256(path))
    else:
        labels = [f"class_{i}" for i in range(settings.num_classes)]
    return net.eval(), labels[: settings.num_classes], PreprocessSpec.for_size(settings.size, settings.size), source


def real_frames(video: str, count: int, size: int, stride: int = 2) -> list[np.ndarray]:
    from stsm_edge.assets import video_path
    from stsm_edge.data.sources import preprocessed_frames
    from stsm_edge.preprocess import PreprocessSpec

    return preprocessed_frames(video_path(video), PreprocessSpec.for_size(size, size), count, stride)


def state_bytes(sidecar: dict, segments: int) -> int:
    """Bytes the caller keeps between calls: the stream's states (at their artifact dtype), or for a clip the
    T-1 preprocessed frames buffered for the next sliding window."""
    itemsize = {"float32": 4, "float16": 2, "int8": 1, "uint8": 1}
    if sidecar["form"] == "stream":
        return int(sum(np.prod(s["shape"]) * itemsize.get(s.get("dtype", "float32"), 4) for s in sidecar["inputs"][1:]))
    frame = sidecar["inputs"][0]["shape"][2:]
    return int((segments - 1) * np.prod(frame) * itemsize.get(sidecar["inputs"][0].get("dtype", "float32"), 4))


def describe(path: Path, sidecar: dict) -> Artifact:
    from stsm_edge.converters.base import artifact_size

    segments = int(sidecar["model"]["n_segments"])
    return Artifact(Path(path), sidecar["target"], model_family(sidecar["model"]), sidecar["form"],
                    sidecar["precision"], segments, artifact_size(path), state_bytes(sidecar, segments), sidecar,
                    sidecar.get("state", "explicit"))


def cached(path: Path, net, spec, source: dict) -> dict | None:
    """The sidecar of a reusable earlier export of the same thing, else None."""
    from stsm_edge.converters.base import tool_versions

    from stsm_edge.errors import StsmEdgeError
    from stsm_edge.sidecar import read_sidecar

    if not path.exists():
        return None
    try:
        sidecar = read_sidecar(path)
    except StsmEdgeError:
        return None
    same = (sidecar.get("model") == net.config.to_dict() and sidecar.get("preprocess") == spec.to_dict()
            and sidecar.get("source", {}).get("weights") == source["weights"] and sidecar.get("tools") == tool_versions())
    return sidecar if same else None


def export_all(settings: Settings) -> tuple[list[Artifact], list[str]]:
    """Every artifact of the plan for every target (cached where possible); skipped targets with reasons."""
    from stsm_edge.converters.base import export_artifact, get_converter

    from stsm_edge.errors import StsmEdgeError

    folder = settings.artifacts_dir / settings.tag()
    calibration = real_frames("box.mp4", settings.calibration_frames, settings.size)
    verification = real_frames("cup.mp4", settings.verification_frames, settings.size)
    artifacts, skipped, nets = [], [], {}
    for target in settings.targets:
        try:
            converter = get_converter(target)
            converter.check_available()
        except StsmEdgeError as exc:
            skipped.append(f"{target}: {exc}")
            say(settings, f"skipping {target}: {exc}")
            continue
        for model, form, precision, state in variants(settings, converter.can_keep_state_inside()):
            if model not in nets:
                nets[model] = build(model, settings)
            net, labels, spec, source = nets[model]
            name = f"{model}_{form}_{precision}" + ("_internal" if state == "internal" else "")
            path = folder / target / f"{name}{converter.suffix}"
            sidecar = cached(path, net, spec, source)
            if sidecar is None:
                say(settings, f"exporting {target} {name}")
                try:
                    result = export_artifact(net, target, form, precision, path.parent, calibration, verification,
                                             labels, spec, source=source, name=name,
                                             options={"state": state} if state != "explicit" else None)
                except StsmEdgeError as exc:
                    skipped.append(f"{target} {name}: {exc}")
                    say(settings, f"export failed, skipped: {target} {name}: {exc}")
                    continue
                sidecar = result.sidecar
            else:
                say(settings, f"reusing {path.relative_to(folder)}")
            artifacts.append(describe(path, sidecar))
    if settings.eager:
        artifacts += eager_artifacts(settings, folder, nets.get("stsm") or build("stsm", settings))
    return artifacts, skipped


def eager_artifacts(settings: Settings, folder: Path, family) -> list[Artifact]:
    """The STSM model as an stsm-edge checkpoint, run eagerly in both forms (target "torch")."""
    from stsm_edge.checkpoints import ModelBundle, save_checkpoint
    from stsm_edge.runtimes.torch import TorchRuntime

    net, labels, spec, source = family
    path = folder / "torch" / "stsm_eager.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(net, path, labels, spec, extra={"source": source})
    out = []
    for form in ("stream", "clip"):
        sidecar = TorchRuntime(path, None, bundle=ModelBundle(net, labels, spec, source), form=form).sidecar
        artifact = describe(path, sidecar)
        artifact.form = form
        out.append(artifact)
    return out


def given_artifacts(paths: tuple[Path, ...]) -> list[Artifact]:
    from stsm_edge.sidecar import read_sidecar

    return [describe(Path(p), read_sidecar(Path(p))) for p in paths]


# ---- child processes ------------------------------------------------------------------------------

def run_child(kind: str, job: dict, workdir: Path) -> dict:
    job_path, out_path = workdir / f"{kind}_job.json", workdir / f"{kind}_out.json"
    job_path.write_text(json.dumps(job))
    out_path.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run([sys.executable, "-m", "stsm_edge.benchmarks.worker", kind, str(job_path), str(out_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not out_path.exists():
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"benchmark child ({kind}) failed with exit code {proc.returncode}: {tail}")
    return json.loads(out_path.read_text())


def summarize(times: list[float]) -> dict:
    a = np.asarray(times, dtype=np.float64)
    p50, p90, p99 = (float(np.percentile(a, q)) for q in (50, 90, 99))
    return {"p50": round(p50, 4), "p90": round(p90, 4), "p99": round(p99, 4), "mean": round(float(a.mean()), 4),
            "min": round(float(a.min()), 4), "max": round(float(a.max()), 4), "std": round(float(a.std()), 4)}


def profile_row(artifact: Artifact, threads: int, settings: Settings, frames_path: Path, workdir: Path) -> dict:
    job = {"artifact": str(artifact.path), "form": artifact.form, "threads": threads, "frames": str(frames_path),
           "segments": artifact.segments, "warmup": settings.warmup, "min_iterations": settings.min_iterations,
           "min_seconds": settings.min_seconds, "max_iterations": settings.max_iterations}
    out = run_child("profile", job, workdir)
    stats = summarize(out["times_ms"])
    frames_per_call = 1 if artifact.form == "stream" else artifact.segments
    parity = artifact.sidecar.get("parity", {}).get("passed")
    return {
        "artifact": artifact.path.name, "target": artifact.target, "form": artifact.form,
        "precision": artifact.precision, "model": artifact.model, "threads": threads, "metric": artifact.metric,
        **({"state": artifact.state} if artifact.form == "stream" else {}),
        **stats, "iterations": len(out["times_ms"]), "warmup": settings.warmup,
        "fps": round(1e3 * frames_per_call / stats["mean"], 2), "first_ms": round(out["first_ms"], 3),
        "load_ms": round(out["load_ms"], 2), "peak_rss_mb": out["peak_rss_mb"],
        "baseline_rss_mb": out["baseline_rss_mb"], "size_bytes": artifact.size_bytes,
        "state_bytes": artifact.state_bytes, "segments": artifact.segments,
        "runtime_version": out["runtime_version"], "parity_passed": parity if isinstance(parity, bool) else None,
        "source": "harness",
    }


def runner_artifacts(artifacts: list[Artifact], settings: Settings) -> list[Artifact]:
    """What the runner overhead is measured on: every given stream artifact, else the default model's int8
    stream per target (exported, or reused from the cache), else (`runner_model` "bench") this run's STSM ones."""
    if settings.given or settings.runner_model == "bench":
        return [a for a in artifacts if a.form == "stream" and a.target != "torch"
                and (settings.given or (a.model, a.precision) == ("stsm", "int8"))]
    return default_model_streams(settings, sorted({a.target for a in artifacts if a.target != "torch"}))


def default_model_streams(settings: Settings, targets: list[str]) -> list[Artifact]:
    """The shipped default model as an int8 stream per target, as `stsm-edge export` makes it."""
    from stsm_edge.converters.base import export_artifact, get_converter

    from stsm_edge.defaults import model_bundle

    bundle = model_bundle("default")
    size = bundle.preprocess.size[0]
    calibration = real_frames("box.mp4", settings.calibration_frames, size)
    verification = real_frames("cup.mp4", settings.verification_frames, size)
    out = []
    for target in targets:
        folder = settings.artifacts_dir / "default_model" / target
        path = folder / f"default_stream_int8{get_converter(target).suffix}"
        sidecar = cached(path, bundle.model, bundle.preprocess, bundle.source)
        if sidecar is None:
            say(settings, f"exporting the default model for {target} (runner overhead)")
            sidecar = export_artifact(bundle.model, target, "stream", "int8", folder, calibration, verification,
                                      bundle.labels, bundle.preprocess, source=bundle.source,
                                      name="default_stream_int8").sidecar
        artifact = describe(path, sidecar)
        artifact.model = "default"
        out.append(artifact)
    return out


def runner_row(artifact: Artifact, settings: Settings, workdir: Path) -> dict:
    width, height = settings.runner_frame
    job = {"artifact": str(artifact.path), "threads": 1, "video": settings.runner_video, "frames": settings.bench_frames,
           "width": width, "height": height, "rounds": settings.rounds, "k": settings.k,
           "warmup": settings.compare_warmup}
    out = run_child("runner", job, workdir)
    medians = out["medians"]
    values = [step / model for step, model in zip(medians["step"], medians["model"])]
    return {"artifact": artifact.path.name, "target": artifact.target, "model": artifact.model,
            "precision": artifact.precision, "threads": 1, "video": settings.runner_video,
            "frame_width": out["frame_size"][0], "frame_height": out["frame_size"][1],
            "size": artifact.sidecar["preprocess"]["size"][0],
            **{f"{key}_ms": round(statistics.median(medians[key]), 4) for key in ("preprocess", "model", "step")},
            "median": round(statistics.median(values), 4), "min": round(min(values), 4), "max": round(max(values), 4),
            "rounds": len(values), "values": [round(v, 4) for v in values],
            "runtime_version": out["runtime_version"]}


def ratio_pairs(members: list[Artifact]) -> list[tuple[str, str, str, str, str]]:
    """(name, precision, form, numerator key, denominator key) for every ratio this group can give. Streams with
    their states inside are compared with the same streams carrying them, and nothing else."""
    have = {(m.model, m.form, m.precision, m.target == "torch"): m.key for m in members if not m.internal}
    pairs = [("internal_over_explicit", m.precision, m.form, m.key, have[(m.model, m.form, m.precision, False)])
             for m in members if m.internal and (m.model, m.form, m.precision, False) in have]
    for form in ("stream", "clip"):
        for precision in ("fp32", "int8"):
            stsm = have.get(("stsm", form, precision, False))
            if stsm is None:
                continue
            for other, name in (("plain", "shift_overhead_vs_plain"), ("tsm", "shift_overhead_vs_tsm")):
                if (other, form, precision, False) in have:
                    pairs.append((name, precision, form, stsm, have[(other, form, precision, False)]))
            if precision == "int8" and ("stsm", form, "fp32", False) in have:
                pairs.append(("int8_over_fp32", "int8/fp32", form, stsm, have[("stsm", form, "fp32", False)]))
            if form == "stream" and ("stsm", "clip", precision, False) in have:
                pairs.append(("stream_over_clip", precision, "stream/clip", stsm, have[("stsm", "clip", precision, False)]))
            eager = have.get(("stsm", form, "fp32", True))
            if eager is not None:
                pairs.append(("eager_over_artifact", precision, form, eager, stsm))
    return pairs


def compare_group(target: str, members: list[Artifact], settings: Settings, frames_path: Path, workdir: Path,
                  threads: int) -> list[dict]:
    pairs = ratio_pairs(members)
    if not pairs:
        return []
    needed = {key for pair in pairs for key in pair[3:]}
    chosen = [m for m in members if m.key in needed]
    job = {"members": [{"key": m.key, "artifact": str(m.path), "form": m.form} for m in chosen], "threads": threads,
           "frames": str(frames_path), "segments": chosen[0].segments, "rounds": settings.rounds, "k": settings.k,
           "warmup": settings.compare_warmup}
    medians = run_child("compare", job, workdir)["medians"]
    names = {m.key: m.path.name for m in chosen}
    ratios = []
    for name, precision, form, num, den in pairs:
        values = [a / b for a, b in zip(medians[num], medians[den])]
        ratios.append({"name": name, "target": target, "precision": precision, "form": form,
                       "median": round(statistics.median(values), 4), "min": round(min(values), 4),
                       "max": round(max(values), 4), "rounds": len(values), "values": [round(v, 4) for v in values],
                       "numerator": names[num] + ("" if not num.startswith("torch:") else f" ({num.split(':')[2]})"),
                       "denominator": names[den], "threads": threads})
    return ratios


# ---- the run --------------------------------------------------------------------------------------

def state_table(artifacts: list[Artifact]) -> list[dict]:
    """Streaming state per model family, from its fp32 stream artifact where there is one."""
    out = {}
    carried = (a for a in artifacts if a.form == "stream" and not a.internal)  # the caller holds no internal state
    for a in sorted(carried, key=lambda a: a.precision != "fp32"):
        if a.model not in out:
            out[a.model] = {"model": a.model, "state_bytes": a.state_bytes, "tensors": len(a.sidecar["inputs"]) - 1,
                            "frame_input_bytes": int(np.prod(a.sidecar["inputs"][0]["shape"]) * 4),
                            "precision": a.precision}
    return [out[m] for m in MODELS if m in out]


def run(settings: Settings) -> Path:
    """Everything: artifacts, profiles, comparisons; writes the results file and returns its path."""
    started = dt.datetime.now(dt.UTC)
    if settings.given:
        artifacts, skipped = given_artifacts(settings.given), []
    else:
        artifacts, skipped = export_all(settings)
    if not artifacts:
        raise schema.ResultsError("no artifact to benchmark: " + ("; ".join(skipped) or "none given"))
    size = artifacts[0].sidecar["preprocess"]["size"][0]
    frames = np.stack(real_frames("vtest.avi", max(settings.bench_frames, artifacts[0].segments + 1), size))
    rows, ratios, runner = [], [], []
    with tempfile.TemporaryDirectory(prefix="stsm-bench-") as tmp:
        workdir = Path(tmp)
        frames_path = workdir / "frames.npy"
        np.save(frames_path, frames)
        for artifact in artifacts:
            for threads in settings.thread_counts():
                say(settings, f"profiling {artifact.target} {artifact.path.name} {artifact.form}, {threads} thread(s)")
                rows.append(profile_row(artifact, threads, settings, frames_path, workdir))
        eager = [a for a in artifacts if a.target == "torch"]
        for target in dict.fromkeys(a.target for a in artifacts if a.target != "torch"):
            members = [a for a in artifacts if a.target == target] + eager
            for threads in settings.compare_threads:
                say(settings, f"comparing {target}, {threads} thread(s): {settings.rounds} rounds x {settings.k} "
                              "interleaved runs")
                ratios += compare_group(target, members, settings, frames_path, workdir, threads)
        for artifact in runner_artifacts(artifacts, settings):
            say(settings, f"runner overhead {artifact.target} {artifact.path.name}: {settings.rounds} rounds x "
                          f"{settings.k} interleaved frames")
            runner.append(runner_row(artifact, settings, workdir))
    fingerprint = device_info.fingerprint(settings.device_name)
    data = {
        "schema": schema.SCHEMA_NAME, "version": schema.VERSION, "date": started.isoformat(timespec="seconds"),
        "tool": "stsm-edge benchmarks harness", "quick": settings.quick,
        "settings": {"size": size, "width_mult": settings.width_mult, "segments": artifacts[0].segments,
                     "weights": settings.weights, "threads": settings.thread_counts(), "warmup": settings.warmup,
                     "min_iterations": settings.min_iterations, "min_seconds": settings.min_seconds,
                     "rounds": settings.rounds, "k": settings.k, "input": "real preprocessed frames of vtest.avi",
                     "timed": "Runtime.run (int8 I/O quantize/dequantize included)",
                     "runner_input": f"raw frames of {settings.runner_video} at "
                                     f"{settings.runner_frame[0]}x{settings.runner_frame[1]}",
                     "seconds": round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)},
        "device": fingerprint, "results": rows, "ratios": ratios, "runner": runner, "states": state_table(artifacts),
        "skipped": skipped,
    }
    suffix = "-quick" if settings.quick else ""
    path = schema.write(settings.results_dir / f"{fingerprint['name']}{suffix}.json", data)
    say(settings, f"wrote {path}")
    return path


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stsm_edge.benchmarks run", description="Benchmark artifacts on this machine.")
    add_flag(parser, BenchFlags.quick)
    add_flag(parser, BenchFlags.targets, help=f"comma-separated, default {','.join(TARGETS)}")
    add_flag(parser, BenchFlags.artifact, action="append", type=Path, default=[],
             help="benchmark this artifact (repeatable) instead of a fresh export")
    add_flag(parser, ModelFlags.size, type=int, help="input height = width (default 224)")
    add_flag(parser, ModelFlags.width_mult, type=float, help="MobileNetV2 width (default 1.0)")
    add_flag(parser, ModelFlags.segments, type=int, help="T, frames per clip (default 8)")
    parser.add_argument("--weights", choices=("imagenet", "random"), help="default imagenet at width 1.0")
    add_flag(parser, RunnerFlags.threads, help="comma-separated thread counts (default 1, 2, 4, ... cores)")
    add_flag(parser, BenchFlags.rounds, type=int, help="interleaved comparison rounds (default 10)")
    add_flag(parser, BenchFlags.repeats, type=int, dest="k", help="runs of each artifact per round (default 10)")
    parser.add_argument("--min-seconds", type=float, help="minimum timed seconds per profile (default 3)")
    parser.add_argument("--min-iterations", type=int, help="minimum timed runs per profile (default 50)")
    parser.add_argument("--no-eager", action="store_true", help="skip eager PyTorch")
    parser.add_argument("--artifacts", type=Path, help="export cache folder (default benchmarks/artifacts)")
    add_flag(parser, BenchFlags.results_dir, type=Path, help="default benchmarks/results")
    parser.add_argument("--report-dir", type=Path, help="default benchmarks/report")
    add_flag(parser, BenchFlags.device_name, help="results file name (default: CPU model + cores)")
    parser.add_argument("--no-report", action="store_true", help="write the results file only")
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {
        "targets": tuple(args.targets.split(",")) if args.targets else None,
        "size": args.size, "width_mult": args.width_mult, "segments": args.segments, "weights": args.weights,
        "threads": tuple(int(t) for t in args.threads.split(",")) if args.threads else None,
        "rounds": args.rounds, "k": args.k, "min_seconds": args.min_seconds, "min_iterations": args.min_iterations,
        "artifacts_dir": args.artifacts, "results_dir": args.results_dir, "report_dir": args.report_dir,
        "device_name": args.device_name, "given": tuple(args.artifact) or None,
        "eager": False if args.no_eager else None,
    }
    if args.quick:
        return Settings.quick_settings(**overrides)
    values = {k: v for k, v in overrides.items() if v is not None}
    if "weights" not in values and values.get("width_mult", 1.0) != 1.0:
        values["weights"] = "random"  # ImageNet weights exist for width 1.0 only
    if values.get("weights") == "random":
        values.setdefault("num_classes", 1000)
    if values.get("min_iterations") is not None:
        values["max_iterations"] = max(values["min_iterations"], Settings.max_iterations)
    return Settings(**values)


def main(argv: list[str] | None = None) -> int:
    from stsm_edge.errors import StsmEdgeError

    args = parse_args(sys.argv[1:] if argv is None else argv)
    settings = settings_from_args(args)
    unknown = [t for t in settings.targets if t not in (*TARGETS, "coreml")]
    if unknown:
        print(f"error: unknown target {unknown[0]!r}; choose from {', '.join(TARGETS)}", file=sys.stderr)
        return 2
    try:
        path = run(settings)
        if not args.no_report:
            from stsm_edge.benchmarks import report

            written = report.write_report(settings.results_dir, settings.report_dir)
            say(settings, f"report: {written}")
    except (StsmEdgeError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
