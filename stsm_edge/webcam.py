"""The webcam demo: live top-3 with score bars, FPS and ms/frame; q quits, r resets, space pauses.

A camera (or stream URL) is read on its own thread that keeps only the newest frame, so recognition
stays real-time and stale frames are dropped; each frame is stamped with its capture time, and the
runner paces model steps by those stamps. A video file is read frame by frame at its own timestamps (a
file never goes stale), which makes `--headless --record` on a file deterministic.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from stsm_edge.errors import InputError
from stsm_edge.overlay import annotated_video, draw_prediction
from stsm_edge.runner import FrameBufferRunner
from stsm_edge.video import iter_video_timed, video_info

WINDOW = "stsm-edge"


class LatestFrameReader:
    """Reads a live source on a thread; `frames()` yields the newest (frame, capture time), dropping the ones
    in between."""

    def __init__(self, capture: cv2.VideoCapture) -> None:
        self._capture = capture
        self._frame: tuple[np.ndarray, float] | None = None
        self._fresh = threading.Condition()
        self._running = True
        self.dropped = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while self._running:
            ok, frame = self._capture.read()
            captured = time.monotonic()
            with self._fresh:
                if not ok:
                    self._running = False
                elif self._frame is not None:
                    self.dropped += 1
                self._frame = (frame, captured) if ok else None
                self._fresh.notify()

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        while True:
            with self._fresh:
                while self._frame is None and self._running:
                    self._fresh.wait(timeout=1.0)
                frame, self._frame = self._frame, None
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=2.0)
        self._capture.release()


def open_camera(index: int) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise InputError(f"camera {index} (/dev/video{index}) cannot be opened: no such device or it is busy")
    return capture


def _live_source(camera: int | None, source: str | None
                 ) -> tuple[Iterator[tuple[np.ndarray, float]], float, LatestFrameReader | None]:
    if source is not None and Path(source).exists():
        return iter_video_timed(Path(source)), video_info(Path(source))[0], None
    if source is not None:
        capture = cv2.VideoCapture(source)  # a stream URL
        if not capture.isOpened():
            raise InputError(f"{source}: no such file, and not a stream OpenCV can open")
    else:
        capture = open_camera(camera or 0)
    reader = LatestFrameReader(capture)
    return reader.frames(), capture.get(cv2.CAP_PROP_FPS), reader


def _check_gui() -> None:
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error as exc:
        raise InputError("this OpenCV build has no window support (opencv-python-headless): run with "
                         "--headless --record out.mp4, or install opencv-python for a live window") from exc


def run_webcam(runner: FrameBufferRunner, camera: int | None = None, source: str | None = None, headless: bool = False,
               record: Path | None = None, max_frames: int | None = None) -> dict:
    if headless and record is None:
        raise InputError("--headless needs --record out.mp4 (there is no window to show)")
    if not headless:
        _check_gui()
    frames, fps, reader = _live_source(camera, source)
    shown = 0
    started = time.perf_counter()
    try:
        if record is not None:
            with annotated_video(record, fps) as sink:
                shown = _loop(runner, frames, headless, sink.write, max_frames)
        else:
            shown = _loop(runner, frames, headless, None, max_frames)
    finally:
        if reader is not None:
            reader.close()
        if not headless:
            cv2.destroyAllWindows()
    elapsed = time.perf_counter() - started
    return {"frames": shown, "seconds": elapsed, "fps": shown / elapsed if elapsed else 0.0,
            "dropped": reader.dropped if reader else 0, "record": str(record) if record else None}


def _loop(runner: FrameBufferRunner, frames: Iterator[tuple[np.ndarray, float]], headless: bool, write,
          max_frames: int | None) -> int:
    shown, last_tick, fps = 0, time.perf_counter(), 0.0
    for frame, stamp in frames:
        prediction = runner.step(frame, stamp)
        now = time.perf_counter()
        instant = 1.0 / max(now - last_tick, 1e-6)
        fps, last_tick = (0.9 * fps + 0.1 * instant) if fps else instant, now
        annotated = draw_prediction(frame, prediction, fps)
        if write is not None:
            write(annotated)
        shown += 1
        if not headless and _handle_keys(runner, annotated) == "quit":
            break
        if max_frames is not None and shown >= max_frames:
            break
    return shown


def _handle_keys(runner: FrameBufferRunner, annotated: np.ndarray) -> str | None:
    """Show the frame; q quits, r resets the runner, space pauses until pressed again (frames wait)."""
    cv2.imshow(WINDOW, annotated)
    paused = False
    while True:
        key = cv2.waitKey(30 if paused else 1) & 0xFF
        if key == ord("q"):
            return "quit"
        if key == ord("r"):
            runner.reset()
        if key == ord(" "):
            paused = not paused
        if not paused:
            return None
