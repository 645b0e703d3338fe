"""Turning per-frame logits into a steady label: TSM's online-demo logic, parameterised.

Per frame: average the last `window` logits -> top-1 -> majority vote over the last `vote` top-1s ->
hysteresis (a new label replaces the shown one only if the shown one has been held for `min_hold`
frames, TSM's rule with min_hold = 2) -> below `threshold` softmax probability the label is "no action".
The Android core mirrors this file step for step; golden vectors keep the two equal.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import asdict, dataclass

import numpy as np

from stsm_edge.errors import InputError
from stsm_edge.options import option


@dataclass(frozen=True)
class SmoothingConfig:
    window: int = option(12, "average the last N logits (TSM demo: 12)", flag="--smooth-window")
    vote: int = option(1, "majority vote over the last N top-1s (1 = off)")
    min_hold: int = option(2, "model steps a label is held before it can change (TSM demo: 2)")
    threshold: float = option(0.0, "below this softmax probability of the average say 'no action'")

    def __post_init__(self) -> None:
        if self.window < 1 or self.vote < 1 or self.min_hold < 1:
            raise InputError("--smooth-window, --vote and --min-hold must be >= 1")
        if not 0.0 <= self.threshold < 1.0:
            raise InputError("--threshold must be in [0, 1)")

    def to_dict(self) -> dict:
        return asdict(self)


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
        logits = np.asarray(logits, dtype=np.float64).reshape(-1)
        if self._logits is None:
            self._logits = np.empty((self.config.window, logits.size))
        self._logits[self._count % self.config.window] = logits
        self._count += 1
        probs = softmax(self._logits[: min(self._count, self.config.window)].mean(axis=0))
        self._top1.append(int(probs.argmax()))
        candidate = majority(self._top1)
        if self._shown is None or candidate == self._shown or self._held >= self.config.min_hold:
            self._held = self._held + 1 if candidate == self._shown else 1
            self._shown = candidate
        else:
            self._held += 1
        score = float(probs[self._shown])
        return Smoothed(probs.astype(np.float32), self._shown if score >= self.config.threshold else None, score)
