"""FrameBufferRunner: live recognition on any artifact, one frame at a time.

Frames are paced by timestamp to the model's time step (`stsm_edge.timebase`): a frame becomes a model
step when a step has passed since the last one, and the frames in between are shown with the latest
prediction without being preprocessed or run. Streaming artifacts apply the temporal shift online: the
states they return are fed back with the next step (or, for a program that keeps its states inside, stay
in it between steps), so each step costs one backbone pass. Clip artifacts
(bidirectional shift) keep a ring buffer of the last T steps and run a whole clip every `stride` steps:
the slow baseline.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stsm_edge.preprocess import preprocess
from stsm_edge.runtimes.base import Runtime, open_model
from stsm_edge.smoothing import RECOMMENDED, Smoother, SmoothingConfig, SmoothingFlags, SmoothingSeconds, softmax
from stsm_edge.timebase import StepPacer, resolve_time_step

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
    model_step: bool = False  # the pacing took this frame as a model time step (else it showed the last label)
    timestamp: float = 0.0  # seconds, as given to `step`
    model_ms: float = 0.0  # latency of the model step whose result is shown (carried on the frames in between)


def _ms_since(start: float) -> float:
    return (time.perf_counter() - start) * 1e3


def _top_k(probs: np.ndarray, labels: list[str], k: int) -> list[tuple[str, float]]:
    # Python ints and floats in one conversion each, not a numpy scalar per class read.
    order = np.argsort(-probs)[:k]
    return list(zip([labels[i] for i in order.tolist()], probs[order].tolist()))


class FrameBufferRunner:
    """`step(frame, timestamp)` per incoming frame. `step_seconds` overrides the model's recorded time step;
    `pacing=False` makes every frame a model step (what a runner without a time base does). `smoothing`: steps
    (a SmoothingConfig, used as given), flags in seconds or steps (SmoothingFlags, each unset one from the model's
    recommended smoothing), or None (the model's recommended smoothing)."""

    def __init__(self, runtime: Runtime, smoothing: SmoothingConfig | SmoothingFlags | None = None, top_k: int = 3,
                 stride: int = 1, step_seconds: float | None = None, pacing: bool = True) -> None:
        self.runtime = runtime
        self.form = runtime.form
        self.labels = runtime.labels
        self.preprocess_spec = runtime.preprocess_spec
        self.n_segments = runtime.n_segments
        self.top_k, self.stride = top_k, max(1, stride)
        self.time_step = resolve_time_step(runtime.time_step, step_seconds)
        if not isinstance(smoothing, SmoothingConfig):
            smoothing = (smoothing or SmoothingFlags()).resolve(self.time_step.seconds, self.recommended_smoothing)
        self.smoother = Smoother(smoothing)
        self.pacer = StepPacer(self.time_step.seconds if pacing else None)
        self.reset()

    @classmethod
    def open(cls, model: str | Path, threads: int | None = None, options=None, **kwargs) -> "FrameBufferRunner":
        """From an artifact (+ sidecar), a checkpoint (read with `options`, a checkpoints.LoadOptions), or "default"."""
        return cls(open_model(model, threads, options), **kwargs)

    def reset(self) -> None:
        """Back to a fresh runner: zero states (the caller's, or the program's own), empty frame buffer, no
        smoothing history."""
        self.runtime.reset()
        self._states = self.runtime.initial_states()
        self._buffer: deque[np.ndarray] = deque(maxlen=self.n_segments)
        self._since_pass = 0
        self._frame_index = 0
        self._last: Prediction | None = None
        self.smoother.reset()
        self.pacer.reset()

    @property
    def recommended_smoothing(self) -> SmoothingSeconds:
        """The model's recommended smoothing (its sidecar's), or the toolkit's for a model that records none."""
        return self.runtime.recommended_smoothing or RECOMMENDED

    @property
    def history_seconds(self) -> float:
        """Seconds of model output the shown label averages: the smoother's window times the time step (at the
        model's step: without pacing a step is a frame, and the seconds depend on the camera)."""
        return self.smoother.config.window * self.time_step.seconds

    @property
    def pacing(self) -> bool:
        return self.pacer.step_ns is not None

    def step(self, frame_bgr: np.ndarray, timestamp: float | None = None) -> Prediction:
        """One incoming frame, stamped in seconds (a video's own timestamps; None: now, for live sources)."""
        start = time.perf_counter()
        timestamp = time.monotonic() if timestamp is None else timestamp
        index, self._frame_index = self._frame_index, self._frame_index + 1
        if not self.pacer.is_step(timestamp):
            return self._shown(index, timestamp, False, start)
        x = preprocess(frame_bgr, self.preprocess_spec)[None]
        logits = self._stream(x) if self.form == "stream" else self._clip(x)
        if logits is None:  # clip form between passes or while the buffer fills
            return self._shown(index, timestamp, True, start)
        smoothed = self.smoother.update(logits)
        label = NO_ACTION if smoothed.index is None else self.labels[smoothed.index]
        latency = _ms_since(start)
        self._last = Prediction(index, label, smoothed.score, _top_k(smoothed.probs, self.labels, self.top_k),
                                _top_k(softmax(logits), self.labels, self.top_k), latency, True, True, timestamp,
                                latency)
        return self._last

    def _shown(self, index: int, timestamp: float, model_step: bool, start: float) -> Prediction:
        """A frame that did not run the model: the latest prediction again (or none yet)."""
        last = self._last
        if last is None:
            return Prediction(index, NO_ACTION, 0.0, latency_ms=_ms_since(start), model_step=model_step,
                              timestamp=timestamp)
        return Prediction(index, last.label, last.score, last.top, last.raw_top, _ms_since(start), False, model_step,
                          timestamp, last.model_ms)

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
