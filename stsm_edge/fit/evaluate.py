"""Top-1 / top-5 and a confusion matrix of a checkpoint or an exported artifact on an annotation list.

Checkpoints and artifacts go through the same runtime adapters as the runner, and every clip is
sampled and preprocessed the same way (TSN centre sampling, the shared `preprocess`), so the gap
between a checkpoint and its int8 artifact is the conversion's loss and nothing else.

`evaluate_played` evaluates as deployed instead: each clip is played through `FrameBufferRunner` as a
live stream at a given frame rate, paced by timestamps, and scored by the label the runner shows at the
clip's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stsm_edge.data.annotations import read_annotations
from stsm_edge.data.dataset import VideoClipDataset
from stsm_edge.errors import InputError
from stsm_edge.fileio import atomic_output
from stsm_edge.fit.config import EvalSettings
from stsm_edge.fit.device import Accelerator
from stsm_edge.options import DeviceConfig
from stsm_edge.runner import NO_ACTION, FrameBufferRunner
from stsm_edge.runtimes.base import Runtime, open_model
from stsm_edge.video import iter_video_timed


@dataclass
class EvalResult:
    labels: list[str]
    confusion: np.ndarray  # [true, predicted] counts
    top5_hits: int
    unlabelled: int = 0  # clips that ended with no label shown (a runner's "no action"): misses

    @property
    def count(self) -> int:
        return int(self.confusion.sum()) + self.unlabelled

    @property
    def top1(self) -> float:
        return float(np.trace(self.confusion) / max(self.count, 1))

    @property
    def top5(self) -> float:
        return self.top5_hits / max(self.count, 1)

    def per_class(self) -> dict[str, float]:
        totals = self.confusion.sum(1)
        return {label: float(self.confusion[i, i] / totals[i]) for i, label in enumerate(self.labels) if totals[i]}


def _records(annotation_list: Path, labels: list[str], limit: int | None):
    records = read_annotations(Path(annotation_list))[:limit]
    too_big = [r for r in records if r.label >= len(labels)]
    if too_big:
        raise InputError(f"{annotation_list}: label {too_big[0].label} of {too_big[0].path} is outside the model's "
                         f"{len(labels)} classes")
    return records


def evaluate(runtime: Runtime, annotation_list: Path, limit: int | None = None, progress=None) -> EvalResult:
    """Run every clip of the list through `runtime` (clip or streaming form) and count hits."""
    labels = runtime.labels
    records = _records(annotation_list, labels, limit)
    clips = VideoClipDataset(records, runtime.n_segments, runtime.preprocess_spec, train=False)
    confusion = np.zeros((len(labels), len(labels)), np.int64)
    top5_hits = 0
    for i in range(len(clips)):
        clip, label = clips[i]
        logits = runtime.clip_logits(clip.numpy())
        confusion[label, int(logits.argmax())] += 1
        top5_hits += int(label in np.argsort(-logits)[:5])
        if progress:
            progress(i + 1, len(clips))
    return EvalResult(labels, confusion, top5_hits)


def played_frames(path: Path, play_fps: float | None):
    """(frame, timestamp) of a video as a camera at `play_fps` would film it playing (each camera frame shows
    the newest video frame: frames repeat above the video's rate, are skipped below it); None: as stored."""
    stored = list(iter_video_timed(path))
    if play_fps is None:
        return stored
    stamps = np.array([stamp for _, stamp in stored])
    period = 1.0 / play_fps
    times = np.arange(0.0, stamps[-1] - stamps[0] + period / 2, period)
    # A small epsilon keeps a camera frame that lands on a video frame's timestamp from showing the one before.
    shown = np.searchsorted(stamps - stamps[0], times + 1e-6, side="right") - 1
    return [(stored[i][0], float(t)) for i, t in zip(shown, times)]


def evaluate_played(runner: FrameBufferRunner, annotation_list: Path, play_fps: float | None = None,
                    limit: int | None = None, progress=None) -> EvalResult:
    """Play every clip through the runner as a live stream at `play_fps` (None: at the videos' own rate) and
    score the label it shows when the clip ends, as a user would read it."""
    labels = runner.labels
    records = _records(annotation_list, labels, limit)
    confusion = np.zeros((len(labels), len(labels)), np.int64)
    top5_hits = unlabelled = 0
    for i, record in enumerate(records):
        runner.reset()
        for frame, stamp in played_frames(record.path, play_fps):
            shown = runner.step(frame, stamp)
        if shown.label == NO_ACTION:
            unlabelled += 1
        else:
            confusion[record.label, labels.index(shown.label)] += 1
        top5_hits += int(labels[record.label] in [label for label, _ in shown.top[:5]])
        if progress:
            progress(i + 1, len(records))
    return EvalResult(labels, confusion, top5_hits, unlabelled)


def plot_confusion(result: EvalResult, path: Path, title: str) -> Path:
    """Row-normalised confusion matrix as a PNG (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = result.confusion / np.maximum(result.confusion.sum(1, keepdims=True), 1)
    size = 2.5 + 0.45 * len(result.labels)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(result.labels))
    ax.set_xticks(ticks, result.labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(ticks, result.labels, fontsize=8)
    if len(result.labels) <= 30:
        for (row, col), value in np.ndenumerate(result.confusion):
            if value:
                ax.text(col, row, str(value), ha="center", va="center", fontsize=7,
                        color="white" if rates[row, col] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}\ntop-1 {result.top1:.1%} on {result.count} clips", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    with atomic_output(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return Path(path)


@dataclass
class EvalRun:
    """An evaluation as `stsm-edge eval` reports it: the result, what was evaluated and how."""

    result: EvalResult
    name: str
    runtime: Runtime
    how: str

    def report(self, data: Path) -> str:
        return (f"{self.name} ({self.runtime.format}, {self.runtime.form}) on {Path(data).name}: {self.result.count} "
                f"clips, {self.how}\ntop-1: {self.result.top1:.2%}\ntop-5: {self.result.top5:.2%}")


def evaluate_model(model: str | Path, settings: EvalSettings, options=None, progress=None,
                   device: DeviceConfig | None = None) -> EvalRun:
    """"default", a checkpoint (read with `options`, a checkpoints.LoadOptions) or an artifact on an annotation list:
    segment-sampled clips, or with `play_fps` each clip played through the runner as a live stream. A checkpoint
    runs on `device`; an artifact runs in its own runtime, so asking it for a GPU or autocast is an error."""
    from stsm_edge.runtimes.base import runtime_class
    from stsm_edge.timebase import step_from_ms

    device = device or DeviceConfig()
    artifact = str(model) != "default" and runtime_class(Path(model)).format != "torch"
    if artifact and (device.device not in ("auto", "cpu") or device.amp != "off" or device.channels_last):
        raise InputError("--device, --amp and --channels-last apply to checkpoints; an exported artifact runs in its "
                         "own runtime")
    accelerator = None if artifact else Accelerator.open(device)
    data = Path(settings.data)
    step_seconds = None if settings.step_ms is None else step_from_ms(settings.step_ms).seconds
    runtime = open_model(model, settings.threads, options, accelerator)
    name = "default model" if str(model) == "default" else Path(model).name
    if settings.play_fps is None:
        return EvalRun(evaluate(runtime, data, settings.limit, progress), name, runtime, "segment-sampled clips")
    runner = FrameBufferRunner(runtime, top_k=5, step_seconds=step_seconds, pacing=not settings.no_pacing)
    how = (f"played at {settings.play_fps:g} fps through the runner, "
           + (f"paced at {runner.time_step.describe()}" if runner.pacing else "pacing off (a step per frame)"))
    return EvalRun(evaluate_played(runner, data, settings.play_fps, settings.limit, progress), name, runtime, how)
