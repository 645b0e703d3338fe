"""The layouts in detection order, and the one detector: the first layout whose markers all match wins."""

from __future__ import annotations

from stsm_edge.checkpoints.files import Layout
from stsm_edge.checkpoints.mmaction2 import MMACTION2
from stsm_edge.checkpoints.torchvision import TORCHVISION
from stsm_edge.checkpoints.tsm import TSM, TSM_MOBILENET_V2, TSM_ONLINE
from stsm_edge.errors import WeightsError

# The online demo before TSM's other flat MobileNetV2 (its markers are a superset); torchvision last, the fallback.
LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (MMACTION2, TSM_ONLINE, TSM_MOBILENET_V2, TSM,
                                                                 TORCHVISION)}


def detect_layout(keys: list[str]) -> Layout:
    return next((layout for layout in LAYOUTS.values() if layout.matches(keys)), TORCHVISION)


def resolve_layout(name: str | None, keys: list[str]) -> Layout:
    """The layout called `name`, or the one detected from the keys."""
    if name is None:
        return detect_layout(keys)
    if name not in LAYOUTS:
        raise WeightsError(f"unknown checkpoint layout {name!r}; choose one of {', '.join(LAYOUTS)}")
    return LAYOUTS[name]
