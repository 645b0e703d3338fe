"""`stsm-edge run`: a video through the runner, with per-frame predictions, a timeline and a summary."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from stsm_edge.app.overlay import annotated_video, draw_prediction
from stsm_edge.fileio import atomic_write_text
from stsm_edge.runner import FrameBufferRunner, Prediction
from stsm_edge.video import iter_video_timed, video_info


@dataclass
class RunReport:
    predictions: list[Prediction]

    @property
    def frames(self) -> int:
        return len(self.predictions)

    @property
    def mean_model_ms(self) -> float:
        """Mean latency of the frames that ran the model (a clip runner's buffering frames excluded)."""
        latencies = [p.latency_ms for p in self.predictions if p.ran_model]
        return float(np.mean(latencies)) if latencies else 0.0

    @property
    def model_steps(self) -> int:
        return sum(p.model_step for p in self.predictions)

    @property
    def seconds(self) -> float:
        """Video time covered: first to last timestamp, plus one frame."""
        if len(self.predictions) < 2:
            return 0.0
        first, last = self.predictions[0].timestamp, self.predictions[-1].timestamp
        return (last - first) * len(self.predictions) / (len(self.predictions) - 1)

    @property
    def steps_per_second(self) -> float:
        """Model steps per second of video time: the model's step rate when paced, the frame rate when not."""
        return self.model_steps / self.seconds if self.seconds else 0.0

    @property
    def core_share(self) -> float:
        """Fraction of one core the model steps take in real time: steps per second x seconds per step."""
        return self.steps_per_second * self.mean_model_ms / 1e3

    def summary(self, runner: FrameBufferRunner) -> str:
        """What `stsm-edge run` prints: frames, pace, cost in real time and the label timeline."""
        lines = [f"{self.frames} frames ({self.seconds:.1f} s of video), {runner.form} form on {runner.runtime.format}",
                 f"model time step {runner.time_step.describe()}" if runner.pacing else
                 "pacing off: one model step per frame", smoothing_line(runner),
                 f"{self.model_steps} model steps = {self.steps_per_second:.1f} steps/s x {self.mean_model_ms:.2f} ms "
                 f"per step = {self.core_share:.1%} of one core", "label timeline:"]
        lines += [f"  frames {first.frame_index:5d}-{last.frame_index:<5d} {first.timestamp:6.2f}-"
                  f"{last.timestamp:<6.2f} s  {first.label}" for first, last in label_timeline(self.predictions)]
        return "\n".join(lines)


def smoothing_line(runner: FrameBufferRunner) -> str:
    """The smoothing in use, in steps and seconds."""
    c, step = runner.smoother.config, runner.time_step.seconds
    return (f"smoothing: the label averages the last {c.window} steps ({runner.history_seconds:.2f} s), held "
            f"{c.min_hold} step(s) ({c.min_hold * step:.2f} s), vote {c.vote}, margin {c.margin:g}, threshold "
            f"{c.threshold:g}")


def recognize_video(runner: FrameBufferRunner, video: Path, annotated: Path | None = None,
                    max_frames: int | None = None, progress: bool = True) -> RunReport:
    """Every frame of `video` through the runner at the video's own timestamps, so the runner paces model steps
    as it would on a live camera of that frame rate."""
    runner.reset()
    predictions: list[Prediction] = []
    fps = video_info(video)[0]  # opens the file: a bad video is an error before any progress bar is drawn
    frames = iter_video_timed(Path(video), max_frames)
    with tqdm(desc=Path(video).name, unit="frame", disable=not progress) as bar:
        if annotated is None:
            for frame, stamp in frames:
                predictions.append(runner.step(frame, stamp))
                bar.update()
        else:
            with annotated_video(annotated, fps) as sink:
                for frame, stamp in frames:
                    predictions.append(runner.step(frame, stamp))
                    sink.write(draw_prediction(frame, predictions[-1], history_s=runner.history_seconds))
                    bar.update()
    return RunReport(predictions)


def label_timeline(predictions: list[Prediction]) -> list[tuple[Prediction, Prediction]]:
    """(first, last) prediction of each run of one smoothed label."""
    runs: list[tuple[Prediction, Prediction]] = []
    for p in predictions:
        if runs and runs[-1][0].label == p.label:
            runs[-1] = (runs[-1][0], p)
        else:
            runs.append((p, p))
    return runs


def _rows(predictions: list[Prediction]) -> list[dict]:
    return [{"frame": p.frame_index, "time_s": round(p.timestamp, 4), "model_step": p.model_step, "label": p.label, "score": round(p.score, 6),
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


def compare_window(stream_runner: FrameBufferRunner, stream_report: RunReport, model: str,
                   window_model: str | None, video: Path, max_frames: int | None = None, threads: int | None = None,
                   progress: bool = True) -> str:
    """The same video through the clip (windowed) form at the same pace, one T-frame clip pass per model step:
    the cost streaming saves. `model` is "default" or the streaming artifact, whose clip sibling is used unless
    `window_model` names one."""
    from stsm_edge.errors import InputError

    pace = {"step_seconds": stream_runner.time_step.seconds, "pacing": stream_runner.pacing}
    if model == "default":
        from stsm_edge.defaults import default_model
        from stsm_edge.runtimes.torch import TorchRuntime

        window = FrameBufferRunner(TorchRuntime(Path("default"), bundle=default_model(), form="clip",
                                                threads=threads), **pace)
    else:
        path = Path(window_model or str(model).replace("_stream_", "_clip_"))
        if not path.exists():
            raise InputError(f"--compare-window needs the clip artifact: {path} not found (pass --window-model)")
        window = FrameBufferRunner.open(path, threads=threads, **pace)
    report = recognize_video(window, video, None, max_frames, progress=progress)
    stream_ms, clip_ms = stream_report.mean_model_ms, report.mean_model_ms
    return (f"windowed clip baseline (T = {window.n_segments}, a clip per model step): {clip_ms:.2f} ms/step; "
            f"streaming {stream_ms:.2f} ms/step = {stream_ms / clip_ms:.3f} of it (1/T = {1 / window.n_segments:.3f})")
