"""Drawing predictions on frames, and writing annotated videos without leaving half-written files."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from stsm_edge.errors import InputError
from stsm_edge.fileio import atomic_output
from stsm_edge.runner import Prediction

BAR_WIDTH = 160
LINE = 22


def draw_prediction(frame: np.ndarray, prediction: Prediction, fps: float | None = None,
                    history_s: float | None = None) -> np.ndarray:
    """Top-k labels with score bars, ms per model step and FPS, and the seconds of model output the label
    averages (`history_s`: what the smoother keeps, `FrameBufferRunner.history_seconds`), on a dark panel in the
    top-left corner."""
    out = frame.copy()
    rows = max(1, len(prediction.top)) + 1 + (history_s is not None)
    panel_w = min(out.shape[1], BAR_WIDTH + 230)
    panel = out[: rows * LINE + 10, :panel_w]
    panel[:] = (panel * 0.35).astype(np.uint8)
    timing = f"{prediction.model_ms:.1f} ms/step" + (f"  {fps:.1f} FPS" if fps else "")
    cv2.putText(out, f"{prediction.label}   {timing}", (6, LINE - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (255, 255, 255), 1, cv2.LINE_AA)
    for i, (label, score) in enumerate(prediction.top, start=1):
        y = i * LINE + 4
        cv2.rectangle(out, (6, y), (6 + int(BAR_WIDTH * score), y + LINE - 8), (60, 180, 75), -1)
        cv2.putText(out, f"{score:4.0%} {label}"[:34], (BAR_WIDTH + 14, y + LINE - 10), cv2.FONT_HERSHEY_SIMPLEX,
                    0.45, (255, 255, 255), 1, cv2.LINE_AA)
    if history_s is not None:
        cv2.putText(out, f"label over the last {history_s:.2f} s", (6, (rows - 1) * LINE + LINE - 6),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


class VideoSink:
    """Opens its cv2.VideoWriter at the first frame, when the frame size is known."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = Path(path), fps if fps and fps > 0 else 25.0
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            h, w = frame.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._writer.isOpened():
                raise InputError(f"{self.path}: OpenCV cannot write mp4 video here")
        self._writer.write(frame)
        self.frames += 1

    def release(self) -> None:
        if self._writer is not None:
            self._writer.release()


@contextmanager
def annotated_video(path: Path, fps: float) -> Iterator[VideoSink]:
    """An mp4 written to a temp file and renamed into place only if everything went well."""
    with atomic_output(Path(path)) as tmp:
        sink = VideoSink(tmp, fps)
        try:
            yield sink
        finally:
            sink.release()
        if sink.frames == 0:
            raise InputError(f"{path}: no frames to write")
