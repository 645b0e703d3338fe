"""Frames from any source a command takes: a video file, an image folder, or the videos of an annotation list."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from stsm_edge.data.annotations import read_annotations
from stsm_edge.errors import InputError
from stsm_edge.preprocess import preprocess
from stsm_edge.timebase import paced
from stsm_edge.video import iter_images, iter_video, iter_video_timed, read_video


def iter_listed(annotation_list: Path, max_frames: int | None = None, stride: int = 1) -> Iterator[np.ndarray]:
    """Frames of every video in an annotation list, one clip after another (calibration on a dataset's clips)."""
    produced = 0
    for record in read_annotations(annotation_list):
        for frame in iter_frames(record.path, None, stride):
            if max_frames is not None and produced >= max_frames:
                return
            produced += 1
            yield frame


def iter_frames(source: Path, max_frames: int | None = None, stride: int = 1) -> Iterator[np.ndarray]:
    """Frames from a video file, an image folder, or the videos of an annotation list (.txt)."""
    if stride < 1:
        raise InputError(f"frame stride must be >= 1, got {stride}")
    source = Path(source)
    if source.is_dir():
        return iter_images(source, max_frames, stride)
    if source.suffix == ".txt":
        return iter_listed(source, max_frames, stride)
    return iter_video(source, max_frames, stride)


def read_frames(source: Path, max_frames: int | None = None, stride: int = 1) -> list[np.ndarray]:
    return list(iter_frames(source, max_frames, stride))


def read_clip(source: Path, max_frames: int | None = None) -> tuple[list[np.ndarray], float]:
    """(frames, frames per second; 0 for an image folder) of one clip, as a loader worker reads it.

    One decoding thread: a worker is already one of many processes decoding side by side, and starting FFmpeg's
    pool of threads for each short clip costs more than it saves (motion clips decode about twice as fast)."""
    source = Path(source)
    if source.is_dir():
        return list(iter_images(source, max_frames)), 0.0
    return read_video(source, max_frames, threads=1)


def preprocessed_frames(source: Path, spec, max_frames: int | None = None, stride: int = 1) -> list[np.ndarray]:
    """Frames of a video, image folder or clip list (`iter_frames`), each through THE preprocessing for `spec`
    (a preprocess.PreprocessSpec): what calibration, verification and the benchmarks feed a model."""
    return [preprocess(frame, spec) for frame in iter_frames(Path(source), max_frames, stride)]


def paced_clips(source: Path, spec, step_seconds: float | None, max_frames: int | None = None,
                stride: int = 1) -> list[list[np.ndarray]]:
    """Preprocessed frames of a source, clip by clip, as a runner paced at the model's time step would take them.

    Each video of an annotation list is a clip, a video file is one clip; a video's frames are paced by their
    timestamps (`step_seconds` None: every frame). An image folder has no timestamps: it is one clip of every
    `stride`-th image, each taken as a step. `max_frames` caps the frames over all clips (the last clip is cut)."""
    source = Path(source)
    paths = [record.path for record in read_annotations(source)] if source.suffix == ".txt" else [source]
    return paced_clips_of(paths, spec, step_seconds, max_frames, stride)


def paced_clips_of(paths: list[Path], spec, step_seconds: float | None, max_frames: int | None = None,
                   stride: int = 1) -> list[list[np.ndarray]]:
    """`paced_clips` of videos or image folders, each one clip."""
    clips, left = [], max_frames
    for path in paths:
        if left is not None and left <= 0:
            break
        if path.is_dir():
            frames = iter_images(path, left, stride)
        else:
            frames = paced(iter_video_timed(path), step_seconds)
        clip = []
        for frame in frames:
            if left is not None and len(clip) >= left:
                break
            clip.append(preprocess(frame, spec))
        left = None if left is None else left - len(clip)
        if clip:
            clips.append(clip)
    return clips
