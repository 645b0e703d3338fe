"""FrameBufferRunner: live recognition on any artifact, one frame at a time.

Streaming artifacts apply the temporal shift online: the states they return are fed back with the
next frame, so each frame costs one backbone pass. Clip artifacts (bidirectional shift) keep a ring
buffer of the last T frames and run a whole clip every `stride` frames: the slow baseline.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stsm_edge.errors import ArtifactError
from stsm_edge.preprocess import preprocess
from stsm_edge.runtimes.base import Runtime, open_runtime
from stsm_edge.smoothing import Smoother, SmoothingConfig, softmax

NO_ACTION = "no action"


@dataclass
class Prediction:
    frame_index: int
    label: str  # smoothed label, or NO_ACTION below the threshold / before the first model pass
    score: float
    top: list[tuple[str, float]] = field(default_factory=list)  # smoothed top-k (label, probability)
    raw_top: list[tuple[str, float]] = field(default_factory=list)  # this frame's own top-k
    latency_ms: float = 0.0  # preprocessing + model time for this frame
    ran_model: bool = False


def _top_k(probs: np.ndarray, labels: list[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs)[:k]
    return [(labels[i], float(probs[i])) for i in order]


class FrameBufferRunner:
    def __init__(self, runtime: Runtime, smoothing: SmoothingConfig = SmoothingConfig(), top_k: int = 3,
                 stride: int = 1) -> None:
        self.runtime = runtime
        self.form = runtime.form
        self.labels = runtime.labels
        self.preprocess_spec = runtime.preprocess_spec
        self.n_segments = runtime.n_segments
        self.top_k, self.stride = top_k, max(1, stride)
        self.smoother = Smoother(smoothing)
        self.reset()

    @classmethod
    def open(cls, model: str | Path, threads: int | None = None, **kwargs) -> "FrameBufferRunner":
        """From an artifact (+ sidecar), an stsm-edge checkpoint, or "default"."""
        if str(model) == "default":
            from stsm_edge.defaults import default_model
            from stsm_edge.runtimes.torch import TorchRuntime

            return cls(TorchRuntime(Path("default"), bundle=default_model(), threads=threads), **kwargs)
        path = Path(model)
        if not path.exists():
            raise ArtifactError(f"{path}: no such model file")
        return cls(open_runtime(path, threads=threads), **kwargs)

    def reset(self) -> None:
        """Back to a fresh runner: zero states, empty frame buffer, no smoothing history."""
        self._states = self.runtime.initial_states()
        self._buffer: deque[np.ndarray] = deque(maxlen=self.n_segments)
        self._since_pass = 0
        self._frame_index = 0
        self._last: Prediction | None = None
        self.smoother.reset()

    def step(self, frame_bgr: np.ndarray) -> Prediction:
        start = time.perf_counter()
        x = preprocess(frame_bgr, self.preprocess_spec)[None]
        logits = self._stream(x) if self.form == "stream" else self._clip(x)
        index, self._frame_index = self._frame_index, self._frame_index + 1
        latency = (time.perf_counter() - start) * 1e3
        if logits is None:  # clip form between passes or while the buffer fills
            if self._last is None:
                return Prediction(index, NO_ACTION, 0.0, latency_ms=latency)
            return Prediction(index, self._last.label, self._last.score, self._last.top, self._last.raw_top, latency)
        smoothed = self.smoother.update(logits)
        label = NO_ACTION if smoothed.index is None else self.labels[smoothed.index]
        self._last = Prediction(index, label, smoothed.score, _top_k(smoothed.probs, self.labels, self.top_k),
                                _top_k(softmax(logits), self.labels, self.top_k), latency, True)
        return self._last

    def _stream(self, x: np.ndarray) -> np.ndarray:
        (logits,), self._states = self.runtime.stream([x], self._states)
        return logits

    def _clip(self, x: np.ndarray) -> np.ndarray | None:
        self._buffer.append(x[0])
        self._since_pass += 1
        if len(self._buffer) < self.n_segments or self._since_pass < self.stride:
            return None
        self._since_pass = 0
        return self.runtime.run([np.stack(self._buffer)[None]])[0][0]
