"""`stsm-edge run`: a video through the runner, with per-frame predictions, a timeline and a summary."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from stsm_edge.fileio import atomic_write_text
from stsm_edge.overlay import annotated_video, draw_prediction
from stsm_edge.runner import FrameBufferRunner, Prediction
from stsm_edge.video import iter_video, open_video


@dataclass
class RunReport:
    predictions: list[Prediction]

    @property
    def frames(self) -> int:
        return len(self.predictions)

    @property
    def mean_ms(self) -> float:
        latencies = [p.latency_ms for p in self.predictions]
        return float(np.mean(latencies)) if latencies else 0.0

    @property
    def mean_model_ms(self) -> float:
        """Mean latency of the frames that ran the model (a clip runner's buffering frames excluded)."""
        latencies = [p.latency_ms for p in self.predictions if p.ran_model]
        return float(np.mean(latencies)) if latencies else 0.0

    @property
    def fps(self) -> float:
        return 1e3 / self.mean_ms if self.mean_ms else 0.0


def video_fps(path: Path) -> float:
    capture = open_video(path)
    try:
        return capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()


def recognize_video(runner: FrameBufferRunner, video: Path, annotated: Path | None = None,
                    max_frames: int | None = None, progress: bool = True) -> RunReport:
    runner.reset()
    predictions: list[Prediction] = []
    frames = iter_video(Path(video), max_frames)
    with tqdm(desc=Path(video).name, unit="frame", disable=not progress) as bar:
        if annotated is None:
            for frame in frames:
                predictions.append(runner.step(frame))
                bar.update()
        else:
            with annotated_video(annotated, video_fps(video)) as sink:
                for frame in frames:
                    predictions.append(runner.step(frame))
                    sink.write(draw_prediction(frame, predictions[-1]))
                    bar.update()
    return RunReport(predictions)


def label_timeline(predictions: list[Prediction]) -> list[tuple[int, int, str]]:
    """(first frame, last frame, label) runs of the smoothed label."""
    runs: list[tuple[int, int, str]] = []
    for p in predictions:
        if runs and runs[-1][2] == p.label:
            runs[-1] = (runs[-1][0], p.frame_index, p.label)
        else:
            runs.append((p.frame_index, p.frame_index, p.label))
    return runs


def _rows(predictions: list[Prediction]) -> list[dict]:
    return [{"frame": p.frame_index, "label": p.label, "score": round(p.score, 6),
             "raw_top1": p.raw_top[0][0] if p.raw_top else "", "raw_score": round(p.raw_top[0][1], 6) if p.raw_top else 0.0,
             "top": [[label, round(score, 6)] for label, score in p.top],
             "latency_ms": round(p.latency_ms, 3), "ran_model": p.ran_model} for p in predictions]


def write_predictions(path: Path, predictions: list[Prediction]) -> None:
    """Per-frame predictions as CSV or JSON, chosen by the file suffix."""
    rows = _rows(predictions)
    if Path(path).suffix.lower() == ".json":
        atomic_write_text(path, json.dumps(rows, indent=1) + "\n")
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["frame"])
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "top": ";".join(f"{label}:{score}" for label, score in row["top"])})
    atomic_write_text(path, buffer.getvalue())
