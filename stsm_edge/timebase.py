"""A streaming model's time step, and pacing live frames to it.

A model learns motion at one time step: the time between two consecutive frames it saw in training.
Segment sampling makes it the clip's duration / T (it varies with each clip's length and frame rate),
dense sampling makes it stride / fps, and fixed-step sampling (`train --step-ms`) makes it one value for
every clip. A camera delivers frames at its own rate, so one model step per frame would show a model
trained at 1/6 s a 30 fps stream 5x slower than it learnt. `StepPacer` turns a frame into a model step
only when its timestamp reaches the next step on the schedule; the frames in between never reach the
model. The Android core's `StepPacer` mirrors this class on integer nanoseconds, as this one computes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator, Sequence, TypeVar

import numpy as np

from stsm_edge.errors import InputError

log = logging.getLogger(__name__)
Item = TypeVar("Item")

# What the runner assumes for a model that records no time step (a foreign checkpoint): the default
# model's step. `--step-ms` sets the right one.
DEFAULT_STEP_SECONDS = 1 / 6
# A frame up to 1/10 of a step before its due time is on time: camera clocks jitter, and a 1/6 s
# schedule meets 30 fps frames only up to rounding. An integer divisor, so Java computes the same.
EARLY_TOLERANCE_DIVISOR = 10
# Video headers read to measure a training set's time step; enough for its mean and spread.
MEASURED_CLIPS = 256


@dataclass(frozen=True)
class TimeStep:
    """The time between two model steps, as training saw it."""

    seconds: float
    spread: float = 0.0  # standard deviation of the per-clip step over the training set (0 for a fixed step)
    source: str = "training"  # how it was set: "training (segment sampling)", "--step-ms", ...

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise InputError(f"a model's time step must be > 0 seconds, got {self.seconds}")

    @property
    def steps_per_second(self) -> float:
        return 1.0 / self.seconds

    def describe(self) -> str:
        spread = f" ± {self.spread * 1e3:.1f}" if self.spread >= 5e-5 else ""
        return f"{self.seconds * 1e3:.1f}{spread} ms ({self.steps_per_second:.1f} steps/s, {self.source})"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "TimeStep | None":
        if not data:
            return None
        return cls(float(data["seconds"]), float(data.get("spread", 0.0)), str(data.get("source", "training")))


def step_from_ms(step_ms: float, source: str = "--step-ms") -> TimeStep:
    if not (math.isfinite(step_ms) and step_ms > 0):
        raise InputError(f"--step-ms must be > 0, got {step_ms:g}")
    return TimeStep(step_ms / 1e3, 0.0, source)


def resolve_time_step(recorded: TimeStep | None, override_seconds: float | None = None) -> TimeStep:
    """The step a runner paces at: an explicit override, else the model's own, else the default with a warning."""
    if override_seconds is not None:
        return step_from_ms(override_seconds * 1e3, "override")
    if recorded is not None:
        return recorded
    log.warning("the model records no time step (a foreign checkpoint?): pacing at %.0f ms; set --step-ms",
                DEFAULT_STEP_SECONDS * 1e3)
    return TimeStep(DEFAULT_STEP_SECONDS, 0.0, "runner default: the model records none")


def training_time_step(clips: Sequence[tuple[float, int]], n_segments: int, sampling: str,
                       dense_stride: int = 1, step_seconds: float | None = None) -> TimeStep | None:
    """The step a training run teaches, from (fps, frame count) of its clips; None if no clip has an fps."""
    if sampling == "timed":
        return TimeStep(float(step_seconds), 0.0, "training (fixed-step sampling)")
    known = [(fps, frames) for fps, frames in clips if fps > 0 and frames > 0]
    if not known:
        return None
    if sampling == "dense":
        steps = np.array([dense_stride / fps for fps, _ in known])
    else:
        steps = np.array([frames / fps / n_segments for fps, frames in known])
    return TimeStep(float(steps.mean()), float(steps.std()), f"training ({sampling} sampling)")


class StepPacer:
    """Which frames become model steps, by timestamp (seconds, any origin, increasing).

    The first frame is a step. Then steps fall due every `step_seconds` on a fixed schedule, and the first
    frame at or after a due time (less the early tolerance) takes it, so the step rate stays right on
    average whatever the camera's rate (at 25 fps and 1/6 s, gaps of 4 and 5 frames alternate). A gap in
    the input longer than a step restarts the schedule instead of bursting, and a timestamp that goes back
    (a new source) restarts it too. `step_seconds` None makes every frame a step (no pacing).
    """

    def __init__(self, step_seconds: float | None) -> None:
        self.step_ns = None if step_seconds is None else int(round(step_seconds * 1e9))
        if self.step_ns is not None and self.step_ns <= 0:
            raise InputError(f"a pacing step must be > 0 seconds, got {step_seconds}")
        self.reset()

    def reset(self) -> None:
        self._due: int | None = None
        self._last: int | None = None

    def is_step(self, timestamp: float) -> bool:
        if self.step_ns is None:
            return True
        now = int(round(timestamp * 1e9))
        # Back from the last frame, not the last step: a new source's clock can restart between two steps.
        went_back = self._last is not None and now < self._last
        self._last = now
        if self._due is None or went_back:
            self._due = now + self.step_ns
        elif now >= self._due - self.step_ns // EARLY_TOLERANCE_DIVISOR:
            self._due += self.step_ns
            if self._due <= now:
                self._due = now + self.step_ns
        else:
            return False
        return True


def paced(stamped: Iterable[tuple[Item, float]], step_seconds: float | None) -> Iterator[Item]:
    """The items of (item, timestamp in seconds) pairs that a `StepPacer` takes as model steps: a recorded clip fed
    as a live runner would feed it."""
    pacer = StepPacer(step_seconds)
    for item, stamp in stamped:
        if pacer.is_step(stamp):
            yield item
