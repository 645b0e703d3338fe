"""Peers benchmark: STSM causal against what a user would pick instead, on LiteRT, 1 thread, in one interleaved run.

    bash benchmarks/peers/setup                       # once: the TensorFlow venv (.venv-peers) and pytorchvideo
    .venv/bin/python -m stsm_edge.benchmarks.peers    # export (cached under --work), time, write results + report

Rows, each model at the input it is deployed at and each built by its own project's code:

* MoViNet-A0-Stream, 172², built by tf-models-official and converted by TensorFlow's TFLite converter
  (movinet_tf.py, run in the peers venv); its step is one frame at 5 fps, the rate it was trained and published at.
* X3D-XS, 4 x 160², built by pytorchvideo (`models.hub.x3d.x3d_xs`, random weights) and converted by
  stsm-edge's TFLite converter as a clip model; its step is one clip, and a clip spans 4 frames sampled every
  12th frame of 30 fps video (its published 4x12 sampling), 1.6 s: played live, one clip per 1.6 s of video,
  the least often X3D-XS can run without dropping video.
* STSM causal at 112² (the shipped default model), at 224² (ImageNet weights, the Kinetics-style input), TSM
  online (the `tsm_online` preset) and plain MobileNetV2 per frame at 224², exported by stsm-edge's converters;
  their step is the default model's recorded time step.
* What would bring a 224²-class STSM to MoViNet's cost: the same model at 160², and width 0.5 at 224² (random
  weights: no ImageNet weights exist for that width), int8 only; TSM online and plain MobileNetV2 are int8 only too.
* X3D-XS and the default model again on ONNX Runtime, 1 thread: litert-torch cannot convert X3D-XS (its depthwise
  Conv3d has no TFLite builtin), so its ratio is taken on the runtime where it converts.

Per row: ms per model step (the signature runner's call on a ready feed), steps per second of live video,
cost per second of video = ms x steps/s, parameters, GFLOPs per step (2 x the multiply-adds of every conv and
fully connected op of the fp32 flatbuffer, one rule for all rows), artifact size, and int8's top-1 agreement
with its own fp32 on real video (cup.mp4 and vtest.avi, played at the model's step, states carried). Each
model's "best" form is the faster of fp32 and int8 among those that agree with fp32 on at least
AGREEMENT_MIN of the steps; every ratio compares best forms, per round of one interleaved run (rounds x a
rotating order x K runs each), as median and min-max over rounds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from stsm_edge.benchmarks.peers import report

from stsm_edge.options import WORK, BenchFlags, add_flag

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEERS_VENV = ROOT / ".venv-peers"
TORCH_SIDE = PEERS_VENV / "torch-side"  # pytorchvideo and its pure-Python imports, installed --no-deps by setup
RESULTS = HERE.parent / "results"
AGREEMENT_MIN = 0.9
MOVINET_STEP_S = 0.2      # 5 fps
X3D_SPAN_S = 4 * 12 / 30  # 4 frames, every 12th of 30 fps video
CALIBRATION_VIDEO, AGREEMENT_VIDEOS = "box.mp4", ("cup.mp4", "vtest.avi")
AGREEMENT_MAX_STEPS = 120  # per video: vtest.avi alone would give ~400 steps at 5 fps
# stsm-edge's exports: calibration and the export's own verification on fewer steps than `stsm-edge export` takes,
# so that ten exports fit a shared 2-core machine; the agreement above is measured on every row alike.
CALIBRATION_STEPS, VERIFICATION_STEPS = 48, 16
PUBLISHED = {  # by model id (report.NAMES)
    "movinet_a0_stream": "Kinetics-600 top-1 72.05% (A0-Stream, 172², tensorflow/models README); 22 ms per frame on "
                         "a Pixel 4 CPU",
    "x3d_xs": "Kinetics-400 top-1 69.12% (4x12 sampling, pytorchvideo model zoo); 165 ms int8 per 1 s clip on a "
              "Galaxy S9",
    "tsm_224": "35 ms per frame on a Galaxy Note8 with TVM (TSM's online demo)",
    "stsm_112": "the motion benchmark: 99.11% eager fp32, int8 streams 98.96-99.26% (docs/benchmarks.md, known limits)",
}


@dataclass
class Row:
    """One model in one precision: what it is, its artifact, and what was measured of it."""

    key: str
    model: str  # one model on one runtime: what a best form is chosen among
    precision: str
    runtime: str
    path: str
    step_s: float
    step_source: str
    params: int
    input: str
    size_bytes: int = 0
    gflops: float = 0.0
    agreement: float | None = None  # int8 rows: top-1 agreement with the model's fp32 row
    correlation: float | None = None  # int8 rows: median per-step correlation of its logits with fp32's
    agreement_steps: int = 0
    note: str = ""
    times: list[float] = field(default_factory=list)  # per round: median ms of K runs


# ---- running a .tflite: one signature runner, inputs by name, int8 I/O quantized here -------------

class Step:
    """One artifact's call on a ready feed, on LiteRT's signature runner. Inputs and outputs are exchanged in
    float; int8 tensors are quantized and dequantized with the artifact's own scale and zero point."""

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path), num_threads=1)
        self.runner = interpreter.get_signature_runner(next(iter(interpreter.get_signature_list())))
        self.inputs, self.outputs = self.runner.get_input_details(), self.runner.get_output_details()
        self._names()

    def _names(self) -> None:
        self.image = next(n for n in self.inputs if n in ("frame", "frames", "image"))
        # a state's next value: "new_<name>" (stsm-edge) or the same name (MoViNet)
        self.carry = {n: (f"new_{n}" if f"new_{n}" in self.outputs else n) for n in self.inputs if n != self.image}

    def zero_states(self) -> dict[str, np.ndarray]:
        return {n: np.zeros(self.inputs[n]["shape"], np.float32) for n in self.carry}

    def feed(self, image: np.ndarray, states: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = {self.image: image, **states}
        return {n: _quantize(values[n], d) for n, d in self.inputs.items()}

    def call(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.runner(**feed)

    def run(self, feed: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        out = self.call(feed)
        logits = _dequantize(out["logits"], self.outputs["logits"])
        return logits, {n: _dequantize(out[o], self.outputs[o]) for n, o in self.carry.items()}


class OrtStep(Step):
    """The same on an ONNX Runtime CPU session, 1 thread, workers not spinning between calls (as the ONNX
    adapter runs it). stsm-edge's ONNX int8 keeps float inputs and outputs."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        float_io = {"dtype": np.float32, "quantization": (0.0, 0)}
        self.inputs = {i.name: {**float_io, "shape": i.shape} for i in self.session.get_inputs()}
        self.outputs = {o.name: float_io for o in self.session.get_outputs()}
        self._output_names = list(self.outputs)
        self._names()

    def call(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self._output_names, self.session.run(self._output_names, feed)))


def open_step(path: Path) -> Step:
    return OrtStep(path) if Path(path).suffix == ".onnx" else Step(path)


def _quantize(value: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if detail["dtype"] == np.int32:
        return np.asarray(value).astype(np.int32)
    if not scale:
        return np.ascontiguousarray(value, np.float32)
    return np.clip(np.round(value / scale) + zero_point, -128, 127).astype(detail["dtype"])


def _dequantize(value: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if not scale or detail["dtype"] == np.int32:
        return value.copy()
    return (value.astype(np.float32) - zero_point) * scale


def play(step: Step, clips: list[list[np.ndarray]]) -> list[np.ndarray]:
    """The logits at every step of every clip, states from zero at each clip's start."""
    found = []
    for clip in clips:
        states = step.zero_states()
        for image in clip:
            logits, states = step.run(step.feed(image, states))
            found.append(logits.ravel())
    return found


def agreement(reference: list[np.ndarray], other: list[np.ndarray]) -> tuple[float, float | None]:
    """Top-1 agreement, and the median over steps of the logits' Pearson correlation (which still reads where
    random weights leave top-1 decided by margins under int8's resolution)."""
    top1 = float(np.mean([np.argmax(a) == np.argmax(b) for a, b in zip(reference, other)]))
    pairs = [(a, b) for a, b in zip(reference, other) if a.std() > 0 and b.std() > 0]
    return top1, float(np.median([np.corrcoef(a, b)[0, 1] for a, b in pairs])) if pairs else None


# ---- multiply-adds, one rule for every flatbuffer ---------------------------------------------------

def gflops(path: Path) -> float:
    """2 x multiply-adds of the conv, depthwise, 3-D conv, fully connected and batch matmul ops, per call."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    shapes = {t["index"]: t["shape"] for t in interpreter.get_tensor_details()}
    macs = 0
    for op in interpreter._get_ops_details():
        name, ins, outs = op["op_name"], op["inputs"], op["outputs"]
        if not len(outs) or len(ins) < 2:
            continue
        out, weight = shapes[outs[0]], shapes[ins[1]]
        if name in ("CONV_2D", "FULLY_CONNECTED"):  # weight [O, kh, kw, I] or [O, I]
            macs += int(np.prod(out)) * int(np.prod(weight[1:]))
        elif name == "DEPTHWISE_CONV_2D":  # weight [1, kh, kw, O]
            macs += int(np.prod(out)) * int(weight[1] * weight[2])
        elif name == "CONV_3D":  # weight [kd, kh, kw, I, O]
            macs += int(np.prod(out)) * int(np.prod(weight[:4]))
        elif name == "BATCH_MATMUL":
            macs += int(np.prod(out)) * int(shapes[ins[0]][-1])
    return 2 * macs / 1e9


# ---- the rows: build and convert each model (cached in --work) --------------------------------------

def paced(video: str, spec, step_s: float) -> list[np.ndarray]:
    from stsm_edge.assets import video_path
    from stsm_edge.data.sources import paced_clips

    return paced_clips(video_path(video), spec, step_s)[0]


def ours(work: Path, log) -> tuple[list[Row], dict]:
    """stsm-edge's own rows: STSM causal 112² and 224², TSM online and plain 224², and the cheaper 224² options."""
    from stsm_edge.converters.base import export_artifact

    from stsm_edge.architectures import PRESETS
    from stsm_edge.defaults import IMAGENET_CONFIG, default_model, imagenet_model
    from stsm_edge.models import ModelConfig, build_model
    from stsm_edge.models.cost import count_parameters
    from stsm_edge.preprocess import PreprocessSpec
    from stsm_edge.sidecar import read_sidecar

    default = default_model()
    step = default.time_step
    imagenet = imagenet_model()

    def variant(preset: str, width: float = 1.0):
        shift = PRESETS[preset]
        config = ModelConfig(**{**IMAGENET_CONFIG.to_dict(), "dims": shift.dims, "fold_div": shift.fold_div,
                                "causal": shift.causal, "width_mult": width})
        return build_model(config, weights="imagenet" if width == 1.0 else None).eval()

    plan = [  # (key, model, spec, labels, precisions, weights); keys ending _ort go to ONNX Runtime
        ("stsm_112", default.model, default.preprocess, default.labels, ("fp32", "int8"), "stsm-edge default"),
        ("stsm_112_ort", default.model, default.preprocess, default.labels, ("fp32", "int8"), "stsm-edge default"),
        ("stsm_224", imagenet.model, PreprocessSpec.for_size(224, 224), imagenet.labels, ("fp32", "int8"),
         "ImageNet"),
        ("tsm_224", variant("tsm_online"), PreprocessSpec.for_size(224, 224), imagenet.labels, ("int8",),
         "ImageNet"),
        ("plain_224", variant("tsn"), PreprocessSpec.for_size(224, 224), imagenet.labels, ("int8",), "ImageNet"),
        ("stsm_160", imagenet.model, PreprocessSpec.for_size(160, 160), imagenet.labels, ("int8",), "ImageNet"),
        ("stsm_128", imagenet.model, PreprocessSpec.for_size(128, 128), imagenet.labels, ("int8",), "ImageNet"),
        ("stsm_224_w0.5", variant("stsm_causal", 0.5), PreprocessSpec.for_size(224, 224), imagenet.labels,
         ("int8",), "random"),
    ]
    rows, clips = [], {}
    for key, model, spec, labels, precisions, weights in plan:
        calibration = paced(CALIBRATION_VIDEO, spec, step.seconds)[:CALIBRATION_STEPS]
        played = [paced(v, spec, step.seconds)[:AGREEMENT_MAX_STEPS] for v in AGREEMENT_VIDEOS]
        clips[key] = [[f[None] for f in frames] for frames in played]
        target = "onnx" if key.endswith("_ort") else "tflite"
        for precision in precisions:
            out = work / key
            path = out / f"{key}_{precision}.{target}"
            if not path.exists():
                log(f"exporting {key} {precision}")
                export_artifact(model, target, "stream", precision, out, calibration_frames=calibration,
                                verification_frames=played[0][:VERIFICATION_STEPS],
                                labels=labels, preprocess=spec, source={"weights": weights},
                                name=f"{key}_{precision}", time_step=step, weak_verify=weights == "random")
            sidecar = read_sidecar(path)
            rows.append(Row(f"{key}:{precision}", key, precision, target, str(path), step.seconds,
                            f"{step.source} (the default model's recorded step)", count_parameters(model),
                            f"1x3x{spec.size[0]}x{spec.size[1]} + {len(sidecar['states'])} states",
                            note=f"weights: {weights}"))
    return rows, clips


def movinet(work: Path, log) -> tuple[list[Row], dict, str]:
    """MoViNet-A0-Stream's two rows, made in the peers venv; or no rows and the reason."""
    from stsm_edge.preprocess import PreprocessSpec

    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        return [], {}, "MoViNet-A0-Stream: not built, the peers venv is absent (run `bash benchmarks/peers/setup`)"
    spec = PreprocessSpec((172, 172), 172, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # RGB in [0, 1], as MoViNet takes it
    nhwc = lambda frames: [f.transpose(1, 2, 0)[None, None] for f in frames]  # noqa: E731
    out = work / "movinet"
    paths = {p: out / f"movinet_a0_stream_{p}.tflite" for p in ("fp32", "int8")}
    if not all(p.exists() for p in paths.values()):
        frames = nhwc(paced(CALIBRATION_VIDEO, spec, MOVINET_STEP_S))
        per_clip = 18
        calibration = np.concatenate(frames[: len(frames) // per_clip * per_clip]).reshape(-1, per_clip, 172, 172, 3)
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / "calibration.npy", calibration)
        log("building MoViNet-A0-Stream in the peers venv (several minutes)")
        done = subprocess.run([str(python), str(HERE / "movinet_tf.py"), "--calibration", str(out / "calibration.npy"),
                               "--out", str(out)], capture_output=True, text=True)
        if done.returncode:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return [], {}, f"MoViNet-A0-Stream: movinet_tf.py failed here: {last}"
    meta = json.loads((out / "movinet.json").read_text())
    clips = [nhwc(paced(v, spec, MOVINET_STEP_S)[:AGREEMENT_MAX_STEPS]) for v in AGREEMENT_VIDEOS]
    rows = [Row(f"movinet_a0_stream:{p}", "movinet_a0_stream", p, "tflite", str(path), MOVINET_STEP_S,
                "5 fps, MoViNet's training and published frame rate", meta["params"], "1x1x172x172x3 + states",
                note=f"random weights; tf-models-official {meta['versions']['tf-models-official']}, "
                     f"TensorFlow {meta['versions']['tensorflow']}") for p, path in paths.items()]
    return rows, {"movinet_a0_stream": clips}, ""


def clip_model(x3d):
    """X3D-XS as stsm-edge's clip form takes a model: (1, T, 3, H, W) "frames" in, a tuple with the logits out."""
    from torch import nn

    class ClipModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.x3d = x3d

        def forward(self, frames):
            return (self.x3d(frames.permute(0, 2, 1, 3, 4)),)

    return ClipModel().eval()


def build_x3d_xs():
    """pytorchvideo's X3D-XS (`models.hub.x3d.x3d_xs`, random weights, seed 0, no softmax), from the peers
    environment."""
    import torch

    # pytorchvideo's models package imports torchvision.ops.RoIAlign for its detection head, which X3D never
    # builds. The only torchvision wheel here is a CUDA build that fails to load beside torch's CPU build
    # ("operator torchvision::nms does not exist"), so a stand-in module answers that import and refuses use. It
    # leaves sys.modules once pytorchvideo is imported: torch.onnx looks torchvision up and would find it.
    stand_in, ops = types.ModuleType("torchvision"), types.ModuleType("torchvision.ops")

    class RoIAlign:
        def __init__(self, *args, **kwargs) -> None:
            raise RuntimeError("torchvision is not installed beside this torch; RoIAlign is unavailable")

    ops.RoIAlign, stand_in.ops = RoIAlign, ops
    if str(TORCH_SIDE) not in sys.path:
        sys.path.insert(0, str(TORCH_SIDE))
    sys.modules.update({"torchvision": stand_in, "torchvision.ops": ops})
    try:
        from pytorchvideo.models.hub.x3d import x3d_xs
    finally:
        for name in ("torchvision", "torchvision.ops"):
            if sys.modules.get(name) in (stand_in, ops):
                del sys.modules[name]

    torch.manual_seed(0)
    # Logits out, as every other row gives: pytorchvideo's head ends in a softmax by default, and random weights'
    # near-uniform probabilities would leave int8's top-1 agreement nothing to agree on. Its cost is 400 exps.
    return x3d_xs(pretrained=False, head_activation=None).eval()


def x3d_clips(video: str) -> list[np.ndarray]:
    """Back-to-back (1, 4, 3, 160, 160) clips of a video, a frame every 0.4 s, through pytorchvideo's X3D transform
    (short side 182, centre crop 160, mean 0.45, std 0.225)."""
    from stsm_edge.preprocess import PreprocessSpec

    spec = PreprocessSpec((160, 160), 182, (0.45, 0.45, 0.45), (0.225, 0.225, 0.225))
    frames = paced(video, spec, X3D_SPAN_S / 4)
    return [np.stack(frames[i:i + 4])[None] for i in range(0, len(frames) - 3, 4)]


def x3d_xs(work: Path, log) -> tuple[list[Row], dict, str]:
    """X3D-XS's rows, converted by stsm-edge's converters as a clip model where they convert it; the reasons
    where they do not."""
    import torch
    from stsm_edge.converters.base import ExportJob, get_converter
    from torch.utils.flop_counter import FlopCounterMode

    from stsm_edge.errors import ExportError
    from stsm_edge.models.cost import count_parameters

    if not (TORCH_SIDE / "pytorchvideo").exists():
        return [], {}, "X3D-XS: not built, pytorchvideo is absent (run `bash benchmarks/peers/setup`)"
    model = build_x3d_xs()
    module = clip_model(model)
    calibration = [(torch.from_numpy(c),) for c in x3d_clips(CALIBRATION_VIDEO)]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:  # conv and matmul multiply-adds x 2
        module(*calibration[0])
    rows, reasons = [], []
    for target in ("tflite", "onnx"):
        converter = get_converter(target)
        for precision in ("fp32", "int8"):
            path = work / "x3d_xs" / f"x3d_xs_{precision}{converter.suffix}"
            if not path.exists():
                log(f"converting X3D-XS {target} {precision}")
                path.parent.mkdir(parents=True, exist_ok=True)
                job = ExportJob(f"x3d_xs_{precision}", "clip", precision, module, calibration[0], ["frames"],
                                ["logits"], calibration if precision == "int8" else [], converter.options(None))
                try:
                    converter.convert(job, path)
                except ExportError as exc:
                    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
                    why = next((line for line in lines if line.startswith("TF Select ops")), lines[0])
                    reasons.append(f"X3D-XS on {target}: stsm-edge's {target} converter stops ({why}: "
                                   "X3D's depthwise Conv3d has no builtin kernel there)" if "TF Select" in why
                                   else f"X3D-XS on {target}: stsm-edge's {target} converter stops ({why})")
                    break
            model_id = "x3d_xs" if target == "tflite" else "x3d_xs_ort"
            rows.append(Row(f"{model_id}:{precision}", model_id, precision, target, str(path), X3D_SPAN_S,
                            "one clip of 4 frames every 12th of 30 fps video (pytorchvideo's 4x12), played back "
                            "to back", count_parameters(model), "1x4x3x160x160",
                            gflops=counter.get_total_flops() / 1e9, note="random weights; pytorchvideo 0.1.5"))
    clips = [x3d_clips(v)[:AGREEMENT_MAX_STEPS] for v in AGREEMENT_VIDEOS]
    played = [clips[0] + clips[1]]  # a clip model has no states: all clips in one sequence
    return rows, {"x3d_xs": played, "x3d_xs_ort": played}, "; ".join(reasons)


# ---- timing ------------------------------------------------------------------------------------------

def time_interleaved(rows: list[Row], feeds: dict, rounds: int, k: int, log) -> None:
    """Per round, each row K runs in a rotating order; a row's round figure is the median of its K runs."""
    for row in rows:
        step, feed = feeds[row.key]
        for _ in range(3):
            step.call(feed)
    for r in range(rounds):
        order = rows[r % len(rows):] + rows[:r % len(rows)]
        for row in order:
            step, feed = feeds[row.key]
            runs = []
            for _ in range(k):
                start = time.perf_counter()
                step.call(feed)
                runs.append((time.perf_counter() - start) * 1e3)
            row.times.append(statistics.median(runs))
        if (r + 1) % 10 == 0:
            log(f"round {r + 1}/{rounds}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_flag(parser, WORK, default="runs/peers", help="exported and converted artifacts (reused when present)")
    add_flag(parser, BenchFlags.rounds, type=int, default=40)
    add_flag(parser, BenchFlags.repeats, type=int, default=7)
    add_flag(parser, BenchFlags.results_dir, default=str(RESULTS), help="peers.json and peers.md go here")
    args = parser.parse_args(argv)
    from stsm_edge.benchmarks import device as device_info

    log = lambda text: print(f"[peers] {text}", file=sys.stderr, flush=True)  # noqa: E731
    work = Path(args.work)
    rows, clips = ours(work, log)
    not_built = []
    for builder in (movinet, x3d_xs):
        built, played, reason = builder(work, log)
        rows += built
        clips.update(played)
        if reason:
            not_built.append(reason)
    steps = {row.key: open_step(Path(row.path)) for row in rows}
    by_model = {}
    for row in rows:
        by_model.setdefault(row.model, {})[row.precision] = row
        row.size_bytes = Path(row.path).stat().st_size
    for model, forms in by_model.items():
        # FLOPs from the fp32 flatbuffer of the model (int8 runs the same ops; its quantize ops add none)
        flatbuffer = by_model.get(model.removesuffix("_ort"), forms)
        flatbuffer = flatbuffer.get("fp32", flatbuffer.get("int8"))
        for row in forms.values():
            if not row.gflops and flatbuffer.path.endswith(".tflite"):
                row.gflops = gflops(Path(flatbuffer.path))
        if "fp32" in forms and "int8" in forms:
            log(f"agreement {model}")
            reference = play(steps[forms["fp32"].key], clips[model])
            int8 = forms["int8"]
            int8.agreement, int8.correlation = agreement(reference, play(steps[int8.key], clips[model]))
            int8.agreement_steps = len(reference)
    feeds = {}
    for row in rows:
        step = steps[row.key]
        feeds[row.key] = (step, step.feed(clips[row.model][0][0], step.zero_states()))
    log(f"timing {len(rows)} artifacts: {args.rounds} rounds x {args.k} runs, interleaved, 1 thread")
    load_before = os.getloadavg()[0]  # how quiet the machine was is part of the result: other work widens the spread
    time_interleaved(rows, feeds, args.rounds, args.k, log)
    load_after = os.getloadavg()[0]
    results = {
        "schema": "stsm-edge/peers", "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python -m stsm_edge.benchmarks.peers", *(argv or sys.argv[1:])]),
        "device": device_info.fingerprint(), "runtime": "LiteRT (ai-edge-litert) signature runner, 1 thread; ONNX Runtime CPU, 1 thread, where marked",
        "load_average": [round(load_before, 2), round(load_after, 2)], "rounds": args.rounds, "k": args.k,
        "agreement_min": AGREEMENT_MIN,
        "agreement_videos": list(AGREEMENT_VIDEOS), "calibration_video": CALIBRATION_VIDEO,
        "published": PUBLISHED, "not_built": not_built, "rows": [asdict(row) for row in rows],
    }
    results_dir = Path(args.results_dir)
    report.write(results, results_dir / "peers.json", results_dir / "peers.md")
    print(report.render(results))


if __name__ == "__main__":
    main()
