"""The networks: MobileNetV2 and ResNet-50 in torchvision's names, the shift put into their blocks, the TSN
wrapper and its config, model cost."""

from stsm_edge.models.insert import insert_shift, residual_blocks, shift_sites
from stsm_edge.models.mobilenet_v2 import InvertedResidual, MobileNetV2
from stsm_edge.models.resnet import Bottleneck, ResNet, resnet50
from stsm_edge.models.tsn import (
    ModelConfig,
    TemporalSegmentNetwork,
    build_model,
    replace_head,
)

__all__ = [
    "Bottleneck", "InvertedResidual", "MobileNetV2", "ModelConfig", "ResNet", "TemporalSegmentNetwork",
    "build_model", "insert_shift", "replace_head", "residual_blocks", "resnet50", "shift_sites",
]
