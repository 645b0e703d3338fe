"""Top-1 / top-5 and a confusion matrix of a checkpoint or an exported artifact on an annotation list.

Checkpoints and artifacts go through the same runtime adapters as the runner, and every clip is
sampled and preprocessed the same way (TSN centre sampling, the shared `preprocess`), so the gap
between a checkpoint and its int8 artifact is the conversion's loss and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stsm_edge.data import VideoClipDataset, read_annotations
from stsm_edge.errors import InputError
from stsm_edge.fileio import atomic_output
from stsm_edge.runtimes.base import Runtime


@dataclass
class EvalResult:
    labels: list[str]
    confusion: np.ndarray  # [true, predicted] counts
    top5_hits: int

    @property
    def count(self) -> int:
        return int(self.confusion.sum())

    @property
    def top1(self) -> float:
        return float(np.trace(self.confusion) / max(self.count, 1))

    @property
    def top5(self) -> float:
        return self.top5_hits / max(self.count, 1)

    def per_class(self) -> dict[str, float]:
        totals = self.confusion.sum(1)
        return {label: float(self.confusion[i, i] / totals[i]) for i, label in enumerate(self.labels) if totals[i]}


def evaluate(runtime: Runtime, annotation_list: Path, limit: int | None = None, progress=None) -> EvalResult:
    """Run every clip of the list through `runtime` (clip or streaming form) and count hits."""
    labels = runtime.labels
    records = read_annotations(Path(annotation_list))[:limit]
    too_big = [r for r in records if r.label >= len(labels)]
    if too_big:
        raise InputError(f"{annotation_list}: label {too_big[0].label} of {too_big[0].path} is outside the model's "
                         f"{len(labels)} classes")
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
