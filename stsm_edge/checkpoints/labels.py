"""Class names for a loaded model: a label file, or what a checkpoint's class count implies, and where they came
from."""

from __future__ import annotations

from pathlib import Path

from stsm_edge.assets import imagenet_labels, kinetics_labels
from stsm_edge.errors import WeightsError

KINETICS_400 = 400
IMAGENET_1K = 1000


def default_labels(num_classes: int, layout: str) -> tuple[list[str], str]:
    """Labels for a checkpoint that carries none, and what they are: Kinetics-400's for 400 classes (MMAction2's
    and TSM's order, alphabetical), ImageNet's for a 1000-class torchvision head, else placeholder names."""
    if num_classes == KINETICS_400:
        return kinetics_labels(), "Kinetics-400, alphabetical (MMAction2's and TSM's order)"
    if num_classes == IMAGENET_1K and layout == "torchvision":
        return imagenet_labels(), "ImageNet-1k"
    return [f"class_{i}" for i in range(num_classes)], "none: class_0 ..."


def read_label_file(path: Path, num_classes: int) -> list[str]:
    """One class name per line (blank lines skipped), line i naming class i; the count must match the head."""
    path = Path(path)
    try:
        labels = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path}: cannot read the label list ({type(exc).__name__})") from None
    if len(labels) != num_classes:
        raise WeightsError(f"{path}: {len(labels)} labels for a head of {num_classes} classes")
    return labels
