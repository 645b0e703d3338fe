"""Clips for training and evaluation: annotation records -> sampled, augmented, preprocessed frames.

Each frame goes through `stsm_edge.preprocess.preprocess`, the same function the runner and calibration
use, so the model is trained on exactly what it will see on the phone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from stsm_edge.data.annotations import VideoRecord
from stsm_edge.data.augment import ClipAugment
from stsm_edge.data.frame_cache import FrameCache
from stsm_edge.data.sampling import SAMPLINGS, dense_indices, segment_indices, timed_indices
from stsm_edge.data.sources import read_clip
from stsm_edge.errors import InputError
from stsm_edge.preprocess import PreprocessSpec, preprocess


class VideoClipDataset(Dataset):
    """Item i -> (float32 clip (T, 3, H, W), label) of record i.

    Randomness comes from a generator seeded by (seed, epoch, index), never from global state: an item
    is reproducible, changes with `set_epoch`, and is the same whichever DataLoader worker loads it.
    The epoch lives in shared memory, so loader workers, persistent ones included, read the epoch that
    `set_epoch` set last: call it before iterating.
    """

    def __init__(self, records: Sequence[VideoRecord], n_segments: int, spec: PreprocessSpec, *, train: bool,
                 sampling: str = "segment", dense_stride: int = 2, step_seconds: float | None = None,
                 augment: ClipAugment | None = None, seed: int = 0, frame_cache: FrameCache | None = None) -> None:
        if sampling not in SAMPLINGS:
            raise ValueError(f"sampling must be one of {SAMPLINGS}, got {sampling!r}")
        if n_segments < 1 or dense_stride < 1:
            raise ValueError("n_segments and dense_stride must be >= 1")
        if sampling == "timed" and not (step_seconds and step_seconds > 0):
            raise ValueError("timed sampling needs step_seconds > 0")
        self.records = list(records)
        self.n_segments = n_segments
        self.spec = spec
        self.train = train
        self.sampling = sampling
        self.dense_stride = dense_stride
        self.step_seconds = step_seconds
        self.augment = augment
        self.seed = seed
        self.frame_cache = frame_cache
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        self._epoch.fill_(epoch)

    def __len__(self) -> int:
        return len(self.records)

    def indices(self, num_frames: int, rng: np.random.Generator, fps: float = 0.0) -> np.ndarray:
        if self.sampling == "timed":
            return timed_indices(num_frames, fps, self.n_segments, self.step_seconds, train=self.train, rng=rng)
        if self.sampling == "dense":
            return dense_indices(num_frames, self.n_segments, self.dense_stride, train=self.train, rng=rng)
        return segment_indices(num_frames, self.n_segments, train=self.train, rng=rng)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        record = self.records[i]
        rng = np.random.default_rng([self.seed, self.epoch, i])
        # The clips are short, so decoding them whole is simpler than seeking. A stated num_frames caps
        # the read; the decoded count wins if smaller (list and decoder may count a video differently).
        read = self.frame_cache.read if self.frame_cache is not None else read_clip
        frames, fps = read(record.path, record.num_frames)
        if self.sampling == "timed" and fps <= 0:
            raise InputError(f"{record.path}: fixed-step sampling needs the frame rate, and it has none in a header")
        clip = [np.asarray(frames[j]) for j in self.indices(len(frames), rng, fps)]
        label = record.label
        if self.train and self.augment is not None:
            clip, label = self.augment(clip, label, rng)
        return torch.from_numpy(np.stack([preprocess(frame, self.spec) for frame in clip])), label


def make_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, workers: int = 0,
                sampler: Sampler | None = None, pin_memory: bool = False, prefetch: int = 2) -> DataLoader:
    """Training loaders (shuffle=True) drop the last partial batch; a given sampler does the shuffling.

    Worker processes persist across epochs (no start-up cost each epoch) and each keeps `prefetch` batches ready;
    `pin_memory` (for a GPU) lets batches copy to the device while the next step runs."""
    return DataLoader(dataset, batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
                      num_workers=workers, drop_last=shuffle, pin_memory=pin_memory, persistent_workers=workers > 0,
                      prefetch_factor=prefetch if workers > 0 else None)
