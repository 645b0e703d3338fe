"""Golden vectors for the Android core: Python writes them, the Java core's JUnit tests must match them.

`write_golden(directory)` fills `directory` with (all deterministic, all from the Python references):

  preprocess/cases.json      YUV 4:2:0 planes of a real frame (cup.mp4) as raw bytes + the float32 tensor
                             `preprocess_yuv420` makes of them (raw little-endian float32, CHW), per spec;
                             plus an odd-sized frame and rotated frames (np.rot90 of the converted image)
  quantize/cases.json        a preprocessed tensor quantized to int8 with `runtimes.base.quantize`, and int8
                             values dequantized with `runtimes.base.dequantize`
  smoothing/cases.json       a 60-frame logit sequence (raw float32) + per SmoothingConfig the shown index
                             (None -> -1), score and smoothed top-3 per frame, from `Smoother`; and per
                             seconds-based setting (SmoothingSeconds) and time step, the steps it becomes and
                             the shown index and score per frame
  pacing/cases.json          frame timestamps in integer ns (camera rates with jitter, a gap, a clock going
                             back) + per time step the frames `StepPacer` takes as model steps
  format/cases.json          label/score/timing strings as `overlay.draw_prediction` formats them
  bench/cases.json           latency lists and numpy's p50/p90/p99/mean of them
  metadata/*.json            sidecars of a stream int8 artifact: ExecuTorch's (float I/O, int8 inside),
                             one with quantized int8 I/O (scale / zero point per input and output), and
                             LiteRT's carried int8 states (channels-last, each state input quantized like
                             its output: `stream_int8_carried_states.json`), all
                             recording the default model's time step; and `required_only.json`, the first cut
                             down to the fields the sidecar's JSON Schema requires; `step_12.json`, a model
                             at 1/12 s recommending its own smoothing. index.json names, per sidecar, the
                             smoothing steps the runner uses with no setting given (its recommended smoothing)
  states/cases.json          per quantized-I/O stream sidecar, scripted model outputs (raw int8 per new state,
                             per step) and the state inputs the Python runtime adapter feeds at each step
                             (`Runtime.initial_states`, then each step's outputs carried as `run` returns them:
                             raw int8 for a carried state, requantized through float32 for any other)

Run: `python -m stsm_edge.app.golden OUT_DIR` (android_demo/core/run_host_tests.sh OUT_DIR then checks Java).
"""

from __future__ import annotations

import copy
import json
import sys
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from stsm_edge.assets import video_path
from stsm_edge.preprocess import PreprocessSpec, normalize, preprocess_yuv420, resize_and_crop, yuv420_to_bgr
from stsm_edge.runner import NO_ACTION, _top_k
from stsm_edge.runtimes.base import Runtime, dequantize, quantize
from stsm_edge.sidecar import SCHEMA, VERSION, schema, validate_sidecar
from stsm_edge.smoothing import RECOMMENDED, Smoother, SmoothingConfig, SmoothingFlags, SmoothingSeconds
from stsm_edge.timebase import DEFAULT_STEP_SECONDS, EARLY_TOLERANCE_DIVISOR, StepPacer, TimeStep

FORMAT_VERSION = 1
VIDEO, FRAME_INDEX = "cup.mp4", 30
NUM_CLASSES, LOGIT_FRAMES = 27, 60
SMOOTHING_CONFIGS = (
    SmoothingConfig(),  # TSM demo defaults: window 12, min_hold 2
    SmoothingConfig(window=1, vote=1, min_hold=1, threshold=0.0),  # raw per-frame top-1
    SmoothingConfig(window=4, vote=3, min_hold=2, threshold=0.0),
    SmoothingConfig(window=3, vote=2, min_hold=1, threshold=0.0),  # vote ties -> the most recent
    SmoothingConfig(window=6, vote=1, min_hold=5, threshold=0.0),
    SmoothingConfig(window=8, vote=5, min_hold=3, threshold=0.3),
    SmoothingConfig(window=2, vote=1, min_hold=2, threshold=0.5),
    SmoothingConfig(window=4, vote=1, min_hold=1, margin=0.5),  # hysteresis by margin
    SmoothingConfig(window=3, vote=2, min_hold=2, threshold=0.2, margin=0.2),
)
# Seconds-based settings and the time steps they are used at: the same seconds make twice the steps at 1/12 s.
SECONDS_CASES = (
    (RECOMMENDED, DEFAULT_STEP_SECONDS), (RECOMMENDED, 1 / 12),
    (SmoothingSeconds(0.67, 0.33, 0.5), DEFAULT_STEP_SECONDS), (SmoothingSeconds(0.67, 0.33, 0.5), 1 / 12),
    (SmoothingSeconds(0.25, 0.1, 0.0, threshold=0.3, margin=0.1), 0.1),
    (SmoothingSeconds(0.0, 0.0), 1 / 30),  # 0 s: a single step
)
# The sidecar of a model at 1/12 s recommending its own smoothing.
STEP_12_SMOOTHING = SmoothingSeconds(0.67, 0.33, 0.5, margin=0.25)
# The default model's step, a faster one, and no pacing (None: every frame a step).
PACING_STEPS = (DEFAULT_STEP_SECONDS, 0.1, None)
# CameraX stamps frames in ns since boot: a day's worth, so the seconds Python paces on are large floats.
PACING_ORIGIN_NS = 86_400 * 10**9 + 123_456_789


def _frame_bgr() -> np.ndarray:
    capture = cv2.VideoCapture(str(video_path(VIDEO)))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, FRAME_INDEX)
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok:
        raise RuntimeError(f"cannot read frame {FRAME_INDEX} of {VIDEO}")
    return frame


def yuv_planes(frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """I420 planes of an even-sized BGR frame (OpenCV's converter: plausible camera planes)."""
    h, w = frame_bgr.shape[:2]
    i420 = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2YUV_I420).reshape(-1)
    y = i420[: h * w].reshape(h, w)
    u = i420[h * w : h * w + (h // 2) * (w // 2)].reshape(h // 2, w // 2)
    v = i420[h * w + (h // 2) * (w // 2) :].reshape(h // 2, w // 2)
    return y, u, v


def preprocess_yuv420_rotated(y, u, v, spec: PreprocessSpec, rotation: int) -> np.ndarray:
    """`preprocess_yuv420` with the converted image turned `rotation` degrees clockwise before resizing
    (what a phone does with ImageProxy's rotationDegrees)."""
    if rotation == 0:
        return preprocess_yuv420(y, u, v, spec)
    image = np.ascontiguousarray(np.rot90(yuv420_to_bgr(y, u, v), k=-(rotation // 90)))
    return normalize(resize_and_crop(image, spec), spec)


def _write_raw(path: Path, array: np.ndarray, dtype: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes())
    return path.name


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")


def write_preprocess(directory: Path) -> dict:
    out = directory / "preprocess"
    frame = _frame_bgr()
    y, u, v = yuv_planes(frame)
    # An odd-sized frame: crop the planes (chroma keeps ceil(h/2) x ceil(w/2)).
    odd = (y[:479, :637], u[:240, :319], v[:240, :319])
    inputs = {"cup": (y, u, v), "cup_odd": odd}
    cases = [
        ("cup", PreprocessSpec(), 0),
        ("cup", PreprocessSpec.for_size(112, 112), 0),
        ("cup", PreprocessSpec((160, 128), 176, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)), 0),
        ("cup_odd", PreprocessSpec.for_size(112, 112), 0),
        ("cup", PreprocessSpec(), 90),
        ("cup_odd", PreprocessSpec.for_size(112, 112), 270),
        ("cup", PreprocessSpec.for_size(112, 112), 180),
    ]
    planes = {}
    for name, (py, pu, pv) in inputs.items():
        planes[name] = {"width": int(py.shape[1]), "height": int(py.shape[0]),
                        "y": _write_raw(out / f"{name}_y.raw", py, "u1"),
                        "u": _write_raw(out / f"{name}_u.raw", pu, "u1"),
                        "v": _write_raw(out / f"{name}_v.raw", pv, "u1")}
    listed = []
    for i, (name, spec, rotation) in enumerate(cases):
        expected = preprocess_yuv420_rotated(*inputs[name], spec, rotation)
        listed.append({"name": f"{name}_{i}", "planes": name, "spec": spec.to_dict(), "rotation": rotation,
                       "expected": _write_raw(out / f"expected_{i}.f32", expected, "f4"),
                       "expected_shape": list(expected.shape)})
    _write_json(out / "cases.json", {"video": VIDEO, "frame_index": FRAME_INDEX, "planes": planes, "cases": listed})
    return {"cases": len(listed)}


def write_quantize(directory: Path) -> dict:
    out = directory / "quantize"
    y, u, v = yuv_planes(_frame_bgr())
    x = preprocess_yuv420(y, u, v, PreprocessSpec.for_size(112, 112))
    rng = np.random.default_rng(11)
    cases = []
    for i, q in enumerate([{"scale": 0.01865844801068306, "zero_point": -14, "dtype": "int8"},
                           {"scale": 0.0078125, "zero_point": 0, "dtype": "int8"},  # exact halves: ties to even
                           {"scale": 0.05, "zero_point": 100, "dtype": "int8"}]):  # saturates at 127
        data = np.concatenate([x.reshape(-1), np.arange(-300, 300, dtype=np.float32) * np.float32(q["scale"] / 2)])
        ints = rng.integers(-128, 128, size=500).astype(np.int8)
        cases.append({"quantization": q,
                      "input": _write_raw(out / f"input_{i}.f32", data, "f4"),
                      "expected_int8": _write_raw(out / f"expected_{i}.i8", quantize(data, q), "i1"),
                      "ints": _write_raw(out / f"ints_{i}.i8", ints, "i1"),
                      "expected_dequantized": _write_raw(out / f"dequantized_{i}.f32", dequantize(ints, q), "f4")})
    _write_json(out / "cases.json", {"cases": cases})
    return {"cases": len(cases)}


def logit_sequence(frames: int = LOGIT_FRAMES, classes: int = NUM_CLASSES, seed: int = 7) -> np.ndarray:
    """Segments of a dominant class, flicker between two classes, and flat low-confidence stretches."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.0, size=(frames, classes))
    plan = [(0, 12, 3, 4.0), (12, 20, 17, 3.0), (20, 30, None, 0.0), (30, 44, 5, 2.5), (44, 60, 9, 5.0)]
    for start, stop, cls, boost in plan:
        if cls is not None:
            logits[start:stop, cls] += boost
        else:  # flicker: 8 and 21 alternate, both weakly
            logits[start:stop:2, 8] += 1.5
            logits[start + 1 : stop : 2, 21] += 1.5
    logits[26:30] *= 0.1  # nearly flat: low confidence, exercises the threshold
    return logits.astype(np.float32)


def _smoothed(config: SmoothingConfig, logits: np.ndarray) -> dict:
    """Shown index (None -> -1), score and smoothed top-3 per frame of `logits` through `Smoother(config)`."""
    class_names = [str(i) for i in range(NUM_CLASSES)]
    smoother = Smoother(config)
    indices, scores, tops = [], [], []
    for row in logits:
        result = smoother.update(row)
        indices.append(-1 if result.index is None else result.index)
        scores.append(result.score)
        tops.append([[int(label), score] for label, score in _top_k(result.probs, class_names, 3)])
    return {"index": indices, "score": scores, "top3": tops}


def write_smoothing(directory: Path) -> dict:
    out = directory / "smoothing"
    logits = logit_sequence()
    configs = [{"config": config.to_dict(), **_smoothed(config, logits)} for config in SMOOTHING_CONFIGS]
    seconds = [{"seconds": setting.to_dict(), "step_seconds": step, "steps": setting.steps(step).to_dict(),
                **_smoothed(setting.steps(step), logits)} for setting, step in SECONDS_CASES]
    _write_json(out / "cases.json", {"frames": LOGIT_FRAMES, "classes": NUM_CLASSES,
                                     "logits": _write_raw(out / "logits.f32", logits, "f4"), "configs": configs,
                                     "seconds": seconds})
    return {"configs": len(configs), "seconds": len(seconds)}


def _camera_stamps(fps: float, frames: int, start_ns: int = PACING_ORIGIN_NS) -> list[int]:
    return [start_ns + round(i * 1e9 / fps) for i in range(frames)]


def pacing_sequences() -> dict[str, list[int]]:
    """Frame timestamps (ns) as cameras deliver them: steady rates, jitter, a stall and a clock going back."""
    rng = np.random.default_rng(3)
    jitter = rng.integers(-3_000_000, 3_000_001, size=90)  # +-3 ms on 33 ms: stays increasing
    stalled = _camera_stamps(30, 28)  # 28 and 32 frames: off the 5-frame cycle, so a restart shows
    resumed = _camera_stamps(30, 30, stalled[-1] + 450_000_000)  # a 0.45 s stall: longer than any step here
    before = _camera_stamps(30, 32)
    after = _camera_stamps(30, 30, before[-1] - 2_000_000_000)  # a new source whose clock is 2 s behind
    # A new source whose clock starts 20 ms before the last frame but after the last step (frame 30 of 32 at 1/6 s).
    slightly_after = _camera_stamps(30, 30, before[-1] - 20_000_000)
    return {
        "30fps_jitter": [t + int(j) for t, j in zip(_camera_stamps(30, 90), jitter)],
        "25fps": _camera_stamps(25, 75),
        "60fps": _camera_stamps(60, 150),
        "12fps": _camera_stamps(12, 36),
        "30fps_gap": stalled + resumed,
        "30fps_backwards": before + after,
        "30fps_back_between_steps": before + slightly_after,
    }


def write_pacing(directory: Path) -> dict:
    """Python's StepPacer on each sequence and step, fed seconds = ns / 1e9 (checked to round-trip to the ns)."""
    cases = []
    for name, stamps in pacing_sequences().items():
        seconds = [ns / 1e9 for ns in stamps]
        drifted = [ns for ns, t in zip(stamps, seconds) if round(t * 1e9) != ns]
        if drifted:
            raise RuntimeError(f"pacing case {name}: {drifted[0]} ns does not round-trip through seconds")
        for step in PACING_STEPS:
            pacer = StepPacer(step)
            cases.append({"name": name, "step_seconds": step, "step_ns": pacer.step_ns, "timestamps_ns": stamps,
                          "steps": [pacer.is_step(t) for t in seconds]})
    _write_json(directory / "pacing" / "cases.json",
                {"early_tolerance_divisor": EARLY_TOLERANCE_DIVISOR, "default_step_seconds": DEFAULT_STEP_SECONDS,
                 "cases": cases})
    return {"cases": len(cases)}


def write_format(directory: Path) -> dict:
    """How the Python overlay writes a top-k line and the timing line (the phone shows the same)."""
    scores = [0.0, 0.004, 0.005, 0.125, 0.135, 0.5, 0.875, 0.9951, 0.99949, 1.0, 0.3333333333, 0.02500000001]
    labels = ["drinking", "Doing other things", "a fairly long label that will certainly be cut", NO_ACTION]
    lines = [{"score": s, "label": labels[i % len(labels)], "text": f"{s:4.0%} {labels[i % len(labels)]}"[:34]}
             for i, s in enumerate(scores)]
    timings = []
    for latency, fps in [(12.25, 30.0), (7.05, None), (0.04, 81.25), (123.456, 9.95), (3.15, 0.0)]:
        timings.append({"latency_ms": latency, "fps": fps,
                        "text": f"{latency:.1f} ms/step" + (f"  {fps:.1f} FPS" if fps else "")})
    _write_json(directory / "format" / "cases.json", {"lines": lines, "timings": timings})
    return {"lines": len(lines), "timings": len(timings)}


def write_bench(directory: Path) -> dict:
    rng = np.random.default_rng(5)
    cases = []
    for n in (1, 2, 7, 100, 257):
        latencies = (rng.gamma(4.0, 3.0, size=n) + 5.0).tolist()
        arr = np.asarray(latencies)
        cases.append({"latencies_ms": latencies, "p50": float(np.percentile(arr, 50)),
                      "p90": float(np.percentile(arr, 90)), "p99": float(np.percentile(arr, 99)),
                      "mean": float(arr.mean())})
    _write_json(directory / "bench" / "cases.json", {"cases": cases})
    return {"cases": len(cases)}


@lru_cache(maxsize=2)
def _small_stream_form(state: str = "explicit"):
    from stsm_edge.forms import build_form
    from stsm_edge.models import stsm_mobilenet_v2

    model = stsm_mobilenet_v2(num_classes=10, n_segments=4, causal=True, width_mult=0.35, dropout=0.0)
    return model, build_form(model, "stream", 112, 112, state)


def _stream_sidecar(model, form, quantized_io: bool, carried_states: bool = False) -> dict:
    """The sidecar an int8 stream export writes, from the real form description of a small model; `carried_states`:
    LiteRT's default int8 stream, its states channels-last and each state input quantized exactly like its output."""
    from stsm_edge.converters.base import _apply_state_io
    from stsm_edge.forms import form_sidecar

    labels = [f"action {i}" for i in range(10)]
    artifact = "mobilenet_v2_stream_int8." + ("tflite" if quantized_io else "pte")
    data = copy.deepcopy(form_sidecar(model, form, "stream", labels, PreprocessSpec.for_size(112, 112),
                                      artifact=artifact, target="tflite" if quantized_io else "executorch",
                                      precision="int8"))  # the form's own dicts stay untouched
    if quantized_io:  # what stsm_edge.converters.base._apply_io_quantization does with the converter's scales
        for i, spec in enumerate(data["inputs"] + data["outputs"]):
            spec["quantization"] = {"scale": float(np.float32(0.02 / (i + 1))), "zero_point": (i * 7) % 50 - 20,
                                    "dtype": "int8"}
            spec["dtype"] = "int8"
    if carried_states:  # what the TFLite converter's shared state quantization leaves, then _apply_state_io
        outputs = {t["name"]: t for t in data["outputs"]}
        for spec in data["inputs"][1:]:
            spec["quantization"] = dict(outputs["new_" + spec["name"]]["quantization"])
        _apply_state_io(data, {state["name"]: "nhwc" for state in data["states"]})
        data["outputs"][0].update(dtype="float32", quantization=None)  # LiteRT's logits stay float
    data["time_step"] = TimeStep(DEFAULT_STEP_SECONDS, 0.012, "training (segment sampling)").to_dict()
    data = {"schema": SCHEMA, "version": VERSION, **data,
            "quantization": {"tool": "golden", "symmetric": not quantized_io},
            "parity": {"passed": True, "note": "golden file, not a real export"}}
    return json.loads(json.dumps(validate_sidecar(data, artifact)))


def required_only(data, node: dict, root: dict):
    """`data` cut down to the fields the JSON Schema `node` (within `root`) requires, recursively: the least a
    valid sidecar carries, which every reader must accept."""
    if "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[1]]
    if isinstance(data, dict) and "required" in node:
        return {key: required_only(data[key], node.get("properties", {}).get(key, {}), root) for key in node["required"]}
    if isinstance(data, list) and isinstance(node.get("items"), dict):
        return [required_only(item, node["items"], root) for item in data]
    return data


def _metadata_entry(directory: Path, name: str, data: dict) -> dict:
    """Write one golden sidecar; its summary: states, classes, and the smoothing steps a runner given no setting
    uses (the sidecar's recommended smoothing at its time step, each defaulted as `FrameBufferRunner` does)."""
    _write_json(directory / "metadata" / name, data)
    recorded = TimeStep.from_dict(data.get("time_step"))
    step = recorded.seconds if recorded else DEFAULT_STEP_SECONDS  # what the runner paces a model without one at
    steps = SmoothingFlags().resolve(step, SmoothingSeconds.from_dict(data.get("smoothing")))
    return {"states": len(data["states"]), "num_classes": data["model"]["num_classes"],
            "smoothing_steps": steps.to_dict()}


def write_metadata(directory: Path) -> dict:
    names = {}
    model, form = _small_stream_form()
    for quantized_io, name in ((False, "stream_int8_executorch.json"), (True, "stream_int8_quantized_io.json")):
        names[name] = _metadata_entry(directory, name, _stream_sidecar(model, form, quantized_io))
    minimal = validate_sidecar(required_only(_stream_sidecar(model, form, False), schema(), schema()), "minimal")
    names["required_only.json"] = _metadata_entry(directory, "required_only.json", minimal)
    names["stream_int8_carried_states.json"] = _metadata_entry(directory, "stream_int8_carried_states.json",
                                                               _stream_sidecar(model, form, True, True))
    # ExecuTorch's stream with the states kept inside the program (export --state internal): frame in, logits out.
    names["stream_int8_internal.json"] = _metadata_entry(directory, "stream_int8_internal.json",
                                                         _stream_sidecar(*_small_stream_form("internal"), False))
    step_12 = _stream_sidecar(model, form, False)
    step_12["time_step"] = TimeStep(1 / 12, 0.0, "training (fixed-step sampling)").to_dict()
    step_12["smoothing"] = {**STEP_12_SMOOTHING.to_dict(), "source": "golden"}
    names["step_12.json"] = _metadata_entry(directory, "step_12.json", validate_sidecar(step_12, "step_12"))
    return names


class _ScriptedRuntime(Runtime):
    """The Python runtime adapter's state carrying (base.Runtime: initial states, quantizing in, dequantizing or
    keeping out) over a model whose outputs are given, so it needs no artifact."""

    format, suffixes = "golden", ()

    def __init__(self, sidecar: dict, outputs: list[list[np.ndarray]]) -> None:
        super().__init__(Path(sidecar["artifact"]), sidecar)
        self._outputs, self.fed = iter(outputs), []

    def _run(self, inputs):
        self.fed.append([self._to_artifact(name, array) for name, array in zip(self.input_names, inputs)])
        return [self._from_artifact(name, array) for name, array in zip(self.output_names, next(self._outputs))]


STATE_STEPS = 4


def write_states(directory: Path) -> dict:
    """What the runtime adapter feeds a stream's state inputs step after step, given what the model returned."""
    out = directory / "states"
    cases = []
    rng = np.random.default_rng(7)
    for name in ("stream_int8_quantized_io.json", "stream_int8_carried_states.json"):
        sidecar = json.loads((directory / "metadata" / name).read_text())
        outputs = [[np.zeros(sidecar["outputs"][0]["shape"], np.float32)]
                   + [rng.integers(-128, 128, spec["shape"]).astype(np.int8) for spec in sidecar["outputs"][1:]]
                   for _ in range(STATE_STEPS)]
        runtime = _ScriptedRuntime(sidecar, outputs)
        frame = np.zeros(sidecar["inputs"][0]["shape"], np.float32)
        runtime.stream([frame] * STATE_STEPS, runtime.initial_states())
        stem = name.removesuffix(".json")
        steps = [{"outputs": [_write_raw(out / f"{stem}_out_{t}_{i}.i8", array, "int8")
                              for i, array in enumerate(step[1:], 1)],
                  "state_inputs": [_write_raw(out / f"{stem}_in_{t}_{i}.i8", array, "int8")
                                   for i, array in enumerate(fed[1:], 1)]}
                 for t, (step, fed) in enumerate(zip(outputs, runtime.fed))]
        cases.append({"sidecar": name, "steps": steps})
    _write_json(out / "cases.json", {"cases": cases})
    return {"cases": len(cases), "steps": STATE_STEPS}


def write_golden(directory: str | Path) -> dict:
    """Write every golden file under `directory`; returns a summary (also written as index.json)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    summary = {"format_version": FORMAT_VERSION, "preprocess": write_preprocess(directory),
               "quantize": write_quantize(directory), "smoothing": write_smoothing(directory),
               "pacing": write_pacing(directory),
               "format": write_format(directory), "bench": write_bench(directory),
               "metadata": write_metadata(directory)}
    summary["states"] = write_states(directory)  # reads the sidecars write_metadata wrote
    _write_json(directory / "index.json", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m stsm_edge.app.golden OUT_DIR", file=sys.stderr)
        return 2
    print(json.dumps(write_golden(argv[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
