"""torchvision's layout: our own names (the backbones use torchvision's), bare or under a whole TSN's `backbone.`.
It is also the layout of stsm-edge's own files, and the fallback when no other layout's markers match."""

from __future__ import annotations

from stsm_edge.checkpoints.files import Layout
from stsm_edge.models.weights import HEAD_KEYS
from stsm_edge.preprocess import PreprocessSpec

TORCHVISION = Layout("torchvision", (), {backbone: ((r"^backbone\.", ""),) for backbone in HEAD_KEYS},
                     PreprocessSpec(), "ImageNet-1k order for a 1000-class head (stsm_edge.assets.imagenet_labels)")
