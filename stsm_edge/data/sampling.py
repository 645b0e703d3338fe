"""Which frames of a clip the model sees: TSN segment sampling, TSM/MMAction2 dense sampling, and
fixed-step sampling by timestamp (the same time step whatever a clip's length or frame rate).

Pure functions of (num_frames, settings, rng) returning int64 frame indices in the order the model
sees them, so the dataset, evaluation and tests agree on the exact frames without decoding anything.
"""

from __future__ import annotations

import numpy as np

SAMPLINGS = ("segment", "dense", "timed")  # TSN segments, every n-th frame, frames a fixed time step apart


def _check(num_frames: int, n_segments: int) -> None:
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if n_segments < 1:
        raise ValueError(f"n_segments must be >= 1, got {n_segments}")


def segment_indices(num_frames: int, n_segments: int, *, train: bool,
                    rng: np.random.Generator | None = None) -> np.ndarray:
    """One frame from each of `n_segments` equal segments of [0, num_frames), sorted.

    Segment i is frames [i * N // n, (i + 1) * N // n): lengths differ by at most one frame and no tail
    of the clip is left out (TSN drops the remainder N % n). Train: a uniformly random frame of each
    segment, so no frame repeats when N >= n; a shorter clip has empty segments, which take the frame
    at their start, so frames repeat evenly. Test: the frame at each segment's centre, TSM's
    `int(tick / 2 + tick * i)` in exact integer arithmetic. `rng` None in train mode draws fresh
    entropy (not reproducible).
    """
    _check(num_frames, n_segments)
    segments = np.arange(n_segments, dtype=np.int64)
    if not train:
        return (2 * segments + 1) * num_frames // (2 * n_segments)
    starts = segments * num_frames // n_segments
    lengths = np.maximum((segments + 1) * num_frames // n_segments - starts, 1)
    return starts + (rng if rng is not None else np.random.default_rng()).integers(lengths)


def dense_indices(num_frames: int, n_segments: int, stride: int, *, train: bool,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """`n_segments` frames `stride` apart: from a random start (train) or centred in the clip (test).

    A clip shorter than the span wraps round (`(start + i * stride) % num_frames`, as TSM and MMAction2
    do): the indices keep sampling order, which is then not sorted.
    """
    _check(num_frames, n_segments)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    slack = max(0, num_frames - ((n_segments - 1) * stride + 1))  # how far the span can move inside the clip
    if train:
        start = int((rng if rng is not None else np.random.default_rng()).integers(0, slack + 1))
    else:
        start = slack // 2
    return (start + np.arange(n_segments, dtype=np.int64) * stride) % num_frames


def timed_indices(num_frames: int, fps: float, n_segments: int, step_seconds: float, *, train: bool,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """`n_segments` frames `step_seconds` apart in time (frame i shown at i / fps), the nearest frame to each.

    The span starts at a random time (train) or is centred in the clip (test). A clip shorter than the span
    holds its last frame for the steps past its end, as a stalled camera would (no wrap-round: a jump back in
    time would be motion the model never sees live).
    """
    _check(num_frames, n_segments)
    if fps <= 0 or step_seconds <= 0:
        raise ValueError(f"fps and step_seconds must be > 0, got {fps} and {step_seconds}")
    slack = max(0.0, (num_frames - 1) / fps - (n_segments - 1) * step_seconds)
    if train:
        start = float((rng if rng is not None else np.random.default_rng()).uniform(0.0, slack))
    else:
        start = slack / 2
    times = start + np.arange(n_segments) * step_seconds
    # Ties (a time halfway between frames, as a centred span often is) round up, all alike: round-half-even
    # and float error would round some down and make one gap a frame short.
    return np.minimum(np.floor(times * fps + 0.5 + 1e-6).astype(np.int64), num_frames - 1)
