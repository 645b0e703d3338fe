"""Reading frames from video files, image folders and cameras, with one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from stsm_edge.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def open_video(path: Path, threads: int | None = None) -> cv2.VideoCapture:
    """A capture of a video file; `threads` caps FFmpeg's decoding threads (None: its default, one per core)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a video file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    params = [] if threads is None else [cv2.CAP_PROP_N_THREADS, threads]
    capture = cv2.VideoCapture(str(path), cv2.CAP_ANY, params)
    if not capture.isOpened():
        raise InputError(f"{path}: not a video OpenCV can read")
    return capture


def video_info(path: Path) -> tuple[float, int]:
    """(frames per second, frame count) from a video's header; 0 where the header does not say."""
    capture = open_video(path)
    try:
        return max(0.0, capture.get(cv2.CAP_PROP_FPS)), max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        capture.release()


def iter_video_timed(path: Path, max_frames: int | None = None) -> Iterator[tuple[np.ndarray, float]]:
    """(BGR frame, its timestamp in seconds) of a video: the container's timestamps, or index / fps where the
    decoder reports none (a timestamp that does not increase)."""
    capture = open_video(path)
    fps = capture.get(cv2.CAP_PROP_FPS)
    nominal = 1.0 / fps if fps > 0 else 1.0 / 30
    index, last = 0, -1.0
    try:
        while max_frames is None or index < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            stamp = capture.get(cv2.CAP_PROP_POS_MSEC) / 1e3
            if index > 0 and stamp <= last:
                stamp = last + nominal
            last = stamp
            index += 1
            yield frame, stamp
    finally:
        capture.release()
    if index == 0:
        raise InputError(f"{path}: no decodable frames (empty, truncated or corrupt video)")


def read_video(path: Path, max_frames: int | None = None, threads: int | None = None) -> tuple[list[np.ndarray], float]:
    """(BGR frames, frames per second from the header, 0 where it has none) of a video, from one capture."""
    capture = open_video(path, threads)
    fps = max(0.0, capture.get(cv2.CAP_PROP_FPS))
    return list(_frames(capture, path, max_frames, 1)), fps


def iter_video(path: Path, max_frames: int | None = None, stride: int = 1) -> Iterator[np.ndarray]:
    """BGR frames of a video; a file that yields no frame at all is an error."""
    return _frames(open_video(path), path, max_frames, stride)


def _frames(capture: cv2.VideoCapture, path: Path, max_frames: int | None, stride: int) -> Iterator[np.ndarray]:
    """Every `stride`-th frame of an open capture, which it releases."""
    index = produced = 0
    try:
        while max_frames is None or produced < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            if index % stride == 0:
                produced += 1
                yield frame
            index += 1
    finally:
        capture.release()
    if index == 0:
        raise InputError(f"{path}: no decodable frames (empty, truncated or corrupt video)")


def iter_images(folder: Path, max_frames: int | None = None, stride: int = 1) -> Iterator[np.ndarray]:
    """Every `stride`-th image of a folder in name order, as a video's frames are taken."""
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[::stride]
    produced = 0
    for file in files[:max_frames] if max_frames else files:
        frame = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if frame is not None:
            produced += 1
            yield frame
    if produced == 0:
        raise InputError(f"{folder}: no readable images")
