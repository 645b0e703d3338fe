"""One adapter per artifact format: load an artifact and its sidecar, run float arrays through it.

The runner, converter verification, benchmarks and eval all go through these, so one place knows each
runtime, and its quirks (int8 I/O scales, input order, output names) stay inside its adapter.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, ClassVar, Sequence

import numpy as np

from stsm_edge.errors import ArtifactError, TargetUnavailable
from stsm_edge.sidecar import read_sidecar

RUNTIMES: dict[str, type["Runtime"]] = {}

# Adapter modules, imported on first use so a missing optional runtime only fails for its own format.
_ADAPTER_MODULES = {
    ".pte": "stsm_edge.runtimes.executorch",
    ".tflite": "stsm_edge.runtimes.litert",
    ".onnx": "stsm_edge.runtimes.onnxruntime",
    ".mlpackage": "stsm_edge.runtimes.coreml",
    ".pt": "stsm_edge.runtimes.torch",
    ".pth": "stsm_edge.runtimes.torch",
}


class Runtime(ABC):
    format: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]

    def __init__(self, path: Path, sidecar: dict, threads: int | None = None) -> None:
        self.path, self.sidecar, self.threads = Path(path), sidecar, threads
        self.input_names = [spec["name"] for spec in sidecar["inputs"]]
        self.output_names = [spec["name"] for spec in sidecar["outputs"]]
        # Looked up for every tensor of every call: a dict, not a scan of the sidecar's lists.
        self._io_quantization = {spec["name"]: spec.get("quantization")
                                 for spec in sidecar["inputs"] + sidecar["outputs"]}
        # States the artifact takes back exactly as it returned them (sidecar states[] with a quantization): their
        # outputs stay in the artifact's integers, and come back in as they are, with nothing to requantize.
        carried = [s["name"] for s in sidecar.get("states", []) if s.get("quantization")] \
            if sidecar.get("state", "explicit") == "explicit" else []
        self._carried_outputs = {"new_" + name for name in carried}

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """float32 arrays in sidecar input order -> float32 arrays in sidecar output order; except the states an
        artifact carries as integers (sidecar states[].quantization), which come out in the artifact's dtype, and go
        in as they came out (a float32 state is quantized)."""
        if len(inputs) != len(self.input_names):
            raise ValueError(f"expected {len(self.input_names)} inputs ({', '.join(self.input_names)}), "
                             f"got {len(inputs)}")
        return self._run(inputs)

    @abstractmethod
    def _run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The format's own call; the adapter applies any int8 I/O quantization the sidecar records."""

    def model_call(self, inputs: Sequence[np.ndarray]) -> Callable[[], object]:
        """One call of the model alone on `inputs` (as `run` takes them), converted to the artifact's types once,
        not at each call: what a benchmark of the model, rather than of this adapter, times. An adapter that
        cannot call its runtime apart from its own conversions times `run`."""
        return lambda: self.run(inputs)

    def _to_artifact(self, name: str, array: np.ndarray) -> np.ndarray:
        """One input as the artifact takes it: quantized where the sidecar says so, unless already its integers."""
        return quantize(np.asarray(array), self.quantization(name))

    def _from_artifact(self, name: str, array: np.ndarray) -> np.ndarray:
        """One output as `run` returns it: dequantized to float32, except a carried state (kept as it is)."""
        return array if name in self._carried_outputs else dequantize(array, self.quantization(name))

    @property
    def form(self) -> str:
        return self.sidecar["form"]

    @property
    def labels(self) -> list[str]:
        """Class names from the sidecar (its validation guarantees one per class)."""
        return list(self.sidecar["labels"])

    @property
    def n_segments(self) -> int:
        return int(self.sidecar["model"]["n_segments"])

    @property
    def time_step(self):
        """The model's time step from the sidecar (a TimeStep), or None when the artifact records none."""
        from stsm_edge.timebase import TimeStep

        return TimeStep.from_dict(self.sidecar.get("time_step"))

    @property
    def recommended_smoothing(self):
        """The smoothing the sidecar recommends (a SmoothingSeconds), or None when it records none."""
        from stsm_edge.smoothing import SmoothingSeconds

        return SmoothingSeconds.from_dict(self.sidecar.get("smoothing"))

    @property
    def preprocess_spec(self):
        from stsm_edge.preprocess import PreprocessSpec  # lazily: adapters for non-torch runtimes stay light

        return PreprocessSpec.from_dict(self.sidecar["preprocess"])

    @property
    def keeps_state_inside(self) -> bool:
        """A streaming program that holds its states itself: it takes the frame alone, and `reset` starts a stream."""
        return self.sidecar.get("state", "explicit") == "internal"

    def initial_states(self) -> list[np.ndarray]:
        """Zero states of a streaming artifact (what a fresh runner starts from), in the layout and dtype it carries
        them: 0.0, or for a state carried as integers its zero point; none for a clip artifact, or for a program that
        keeps its states inside (reset it instead)."""
        if self.form != "stream":
            return []
        states = {spec["name"]: spec for spec in self.sidecar.get("states", [])}
        zeros = []
        for spec in self.sidecar["inputs"][1:]:
            q = states.get(spec["name"], {}).get("quantization")
            zeros.append(np.zeros(spec["shape"], np.float32) if q is None
                         else np.full(spec["shape"], q["zero_point"], np.dtype(q.get("dtype", "int8"))))
        return zeros

    def reset(self) -> None:
        """Start a new stream. Explicit states are the caller's to zero (`initial_states`); an adapter whose
        program keeps them inside overrides this."""

    def stream(self, frames, states: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per-frame logits of (1, 3, H, W) frames run in order, each frame's states fed to the next (a program
        that keeps its states inside takes and returns none: it continues from where its last call left off)."""
        outputs = []
        for frame in frames:
            logits, *states = self.run([frame, *states])
            outputs.append(logits[0])
        return outputs, states

    def clip_logits(self, clip: np.ndarray) -> np.ndarray:
        """TSN logits of one (T, 3, H, W) clip: a clip pass, or the mean of the T streamed frames' logits
        from zero states (equal for a causal model, whose frame t sees only frames <= t)."""
        if self.form == "stream":
            self.reset()
            return np.mean(self.stream([frame[None] for frame in clip], self.initial_states())[0], axis=0)
        return self.run([clip[None]])[0][0]

    def quantization(self, name: str) -> dict | None:
        """The int8 scale/zero-point of an I/O tensor, if the artifact quantizes it."""
        return self._io_quantization.get(name)


def register_runtime(cls: type[Runtime]) -> type[Runtime]:
    for suffix in cls.suffixes:
        RUNTIMES[suffix] = cls
    return cls


def quantize(array: np.ndarray, q: dict | None) -> np.ndarray:
    if q is None:
        return array.astype(np.float32, copy=False)
    if array.dtype == np.dtype(q.get("dtype", "int8")):  # already the artifact's integers: a carried state
        return array
    info = np.iinfo(np.dtype(q.get("dtype", "int8")))
    return np.clip(np.round(array / q["scale"]) + q["zero_point"], info.min, info.max).astype(q.get("dtype", "int8"))


def dequantize(array: np.ndarray, q: dict | None) -> np.ndarray:
    if q is None:
        return array.astype(np.float32, copy=False)
    return ((array.astype(np.float32) - q["zero_point"]) * q["scale"]).astype(np.float32)


def runtime_class(path: Path) -> type[Runtime]:
    suffix = Path(path).suffix
    module = _ADAPTER_MODULES.get(suffix)
    if module is None:
        known = ", ".join(sorted(_ADAPTER_MODULES))
        raise ArtifactError(f"{path}: unknown artifact type {suffix or '(no suffix)'!r}; expected one of {known}")
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise TargetUnavailable(f"cannot run {suffix} artifacts: {exc}") from exc
    return RUNTIMES[suffix]


def open_runtime(path: Path, sidecar: dict | None = None, threads: int | None = None) -> Runtime:
    path = Path(path)
    cls = runtime_class(path)
    if not path.exists():
        raise ArtifactError(f"{path}: no such artifact")
    if cls.format == "torch":  # a checkpoint describes itself; it has no sidecar
        return cls(path, None, threads)
    return cls(path, sidecar if sidecar is not None else read_sidecar(path), threads)


def open_model(model: str | Path, threads: int | None = None, options=None, accelerator=None) -> Runtime:
    """A runtime for "default" (the shipped model, eager), a checkpoint (stsm-edge, or from another tool read with
    `options`, a checkpoints.LoadOptions) or an exported artifact with its sidecar. `accelerator` (fit.device's, or
    None: the CPU in fp32) places an eager model; artifacts run in their own runtimes."""
    from stsm_edge.checkpoints import LoadOptions
    from stsm_edge.defaults import model_bundle

    if str(model) == "default":  # the eager runtime, found through the registry like every adapter
        return runtime_class(Path("default.pt"))(Path("default"), threads=threads, bundle=model_bundle("default"),
                                                  accelerator=accelerator)
    path = Path(model)
    cls = runtime_class(path)
    if not path.exists():
        raise ArtifactError(f"{path}: no such model file")
    if cls.format != "torch":
        return open_runtime(path, threads=threads)
    return cls(path, threads=threads, bundle=model_bundle(path, options or LoadOptions()), accelerator=accelerator)
