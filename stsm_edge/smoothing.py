"""Turning per-step logits into a steady label: TSM's online-demo logic, parameterised in seconds.

Per model step: average the last `window` logits -> top-1 -> majority vote over the last `vote` top-1s ->
hysteresis (a new label replaces the shown one only if the shown one has been held for `min_hold`
steps, TSM's rule with min_hold = 2, and its averaged probability beats the shown one's by `margin`) ->
below `threshold` softmax probability the label is "no action".

`Smoother` counts model steps (`SmoothingConfig`). What a person feels is seconds, and a step lasts what the
model's time step says, so settings are given in seconds (`SmoothingSeconds`, `--smooth-s`, `--min-hold-s`,
`--vote-s`) and turned into steps with the model's time step; the step-count flags stay as aliases. A model's
recommended smoothing travels in its sidecar; `RECOMMENDED` is the one the live benchmark chose
(benchmarks/live). The Android core mirrors this file step for step; golden vectors keep the two equal.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import asdict, dataclass

import numpy as np

from stsm_edge.errors import InputError
from stsm_edge.options import option


@dataclass(frozen=True)
class SmoothingConfig:
    """The smoother's settings in model steps (what `Smoother` counts)."""

    window: int = 12
    vote: int = 1
    min_hold: int = 2
    threshold: float = 0.0
    margin: float = 0.0  # a new label's averaged probability must beat the shown one's by this much

    def __post_init__(self) -> None:
        if self.window < 1 or self.vote < 1 or self.min_hold < 1:
            raise InputError("--smooth-window, --vote and --min-hold must be >= 1")
        if not 0.0 <= self.threshold < 1.0:
            raise InputError("--threshold must be in [0, 1)")
        if not 0.0 <= self.margin < 1.0:
            raise InputError("--margin must be in [0, 1)")

    def to_dict(self) -> dict:
        return asdict(self)


def seconds_to_steps(seconds: float, step_seconds: float) -> int:
    """The whole number of model steps nearest to `seconds` (at least one: 0 s means a single step)."""
    return max(1, int(round(seconds / step_seconds)))


@dataclass(frozen=True)
class SmoothingSeconds:
    """Smoothing as a user feels it: seconds of history, whatever the model's time step."""

    smooth_s: float  # average the logits of the last N seconds
    min_hold_s: float  # a label is held this long before it can change
    vote_s: float = 0.0  # majority vote over the top-1s of the last N seconds (0: off)
    threshold: float = 0.0
    margin: float = 0.0

    def __post_init__(self) -> None:
        if min(self.smooth_s, self.min_hold_s, self.vote_s) < 0:
            raise InputError("--smooth-s, --min-hold-s and --vote-s must be >= 0")

    def steps(self, step_seconds: float) -> SmoothingConfig:
        return SmoothingConfig(seconds_to_steps(self.smooth_s, step_seconds),
                               seconds_to_steps(self.vote_s, step_seconds),
                               seconds_to_steps(self.min_hold_s, step_seconds), self.threshold, self.margin)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "SmoothingSeconds | None":
        if not data:
            return None
        return cls(float(data["smooth_s"]), float(data["min_hold_s"]), float(data.get("vote_s", 0.0)),
                   float(data.get("threshold", 0.0)), float(data.get("margin", 0.0)))


# The live benchmark's choice for the default model (benchmarks/live/table.md): written into every exported
# sidecar as the model's recommended smoothing, and used for a model that records none.
RECOMMENDED = SmoothingSeconds(smooth_s=0.67, min_hold_s=0.0, margin=0.5)
RECOMMENDED_SOURCE = "live benchmark of the default model (benchmarks/live)"


@dataclass(frozen=True)
class SmoothingFlags:
    """What a user asks for on the command line: seconds, or steps (the older flags, kept as aliases); each
    unset value comes from the model's recommended smoothing."""

    smooth_s: float | None = option(None, "average the logits of the last N seconds (default: the model's "
                                          "recommended smoothing, from its sidecar)", flag="--smooth-s")
    min_hold_s: float | None = option(None, "a label is held N seconds before it can change", flag="--min-hold-s")
    vote_s: float | None = option(None, "majority vote over the top-1s of the last N seconds (0 = off)",
                                  flag="--vote-s")
    window: int | None = option(None, "the same as --smooth-s, in model steps", flag="--smooth-window")
    min_hold: int | None = option(None, "the same as --min-hold-s, in model steps")
    vote: int | None = option(None, "the same as --vote-s, in model steps")
    threshold: float | None = option(None, "below this softmax probability of the average say 'no action'")
    margin: float | None = option(None, "hysteresis: a new label's averaged probability must beat the shown "
                                        "one's by this much (0 = off)")

    def __post_init__(self) -> None:
        for seconds, steps in (("smooth_s", "window"), ("min_hold_s", "min_hold"), ("vote_s", "vote")):
            if getattr(self, seconds) is not None and getattr(self, steps) is not None:
                raise InputError(f"--{seconds.replace('_', '-')} and its step-count alias --"
                                 f"{'smooth-window' if steps == 'window' else steps.replace('_', '-')} both given")
        # Checked now, not when a model is open: a bad value is a one-line error before anything slow.
        self.resolve(1.0)

    def resolve(self, step_seconds: float, recommended: SmoothingSeconds | None = None) -> SmoothingConfig:
        """The steps to smooth over at `step_seconds`: each flag given, else the recommended value."""
        def given(value, default):
            return default if value is None else value

        base = recommended or RECOMMENDED
        seconds = SmoothingSeconds(given(self.smooth_s, base.smooth_s), given(self.min_hold_s, base.min_hold_s),
                                   given(self.vote_s, base.vote_s), given(self.threshold, base.threshold),
                                   given(self.margin, base.margin)).steps(step_seconds)
        return SmoothingConfig(given(self.window, seconds.window), given(self.vote, seconds.vote),
                               given(self.min_hold, seconds.min_hold), seconds.threshold, seconds.margin)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def majority(indices: deque[int]) -> int:
    """Most frequent index; ties go to the most recent of the tied ones."""
    counts = Counter(indices)
    best = max(counts.values())
    return next(i for i in reversed(indices) if counts[i] == best)


@dataclass
class Smoothed:
    probs: np.ndarray  # softmax of the averaged logits
    index: int | None  # shown class, None for "no action"
    score: float  # probability of the shown class (of the held class when hysteresis keeps it)


class Smoother:
    def __init__(self, config: SmoothingConfig = SmoothingConfig()) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        # The last `window` logits as rows of one array, overwritten in turn: the mean is one reduction,
        # not a list of arrays gathered into a new one every frame.
        self._logits: np.ndarray | None = None
        self._count = 0
        self._top1: deque[int] = deque(maxlen=self.config.vote)
        self._shown: int | None = None
        self._held = 0

    def update(self, logits: np.ndarray) -> Smoothed:
        logits = np.asarray(logits).reshape(-1)
        if self._logits is None:
            self._logits = np.empty((self.config.window, logits.size))
        self._logits[self._count % self.config.window] = logits  # widened to float64 as it is stored
        self._count += 1
        # The mean as ndarray.mean computes it (a sum over rows, then a float64 division by the count), without its
        # Python-level wrapper: this runs once per model step.
        rows = min(self._count, self.config.window)
        probs = softmax(np.add.reduce(self._logits[:rows], axis=0) / rows)
        top1 = int(probs.argmax())
        self._top1.append(top1)
        candidate = top1 if self.config.vote == 1 else majority(self._top1)
        if self._shown is None or candidate == self._shown or (
                self._held >= self.config.min_hold and probs[candidate] - probs[self._shown] >= self.config.margin):
            self._held = self._held + 1 if candidate == self._shown else 1
            self._shown = candidate
        else:
            self._held += 1
        score = float(probs[self._shown])
        return Smoothed(probs.astype(np.float32), self._shown if score >= self.config.threshold else None, score)
