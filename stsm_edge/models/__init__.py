"""The networks: MobileNetV2 and ResNet-18/34/50/101 in torchvision's names, the shift put into their blocks, the
TSN wrapper and its config, model cost, and one builder per architecture behind one registry with its named weights
(as torchvision.models)."""

from stsm_edge.models.builders import (
    MODELS,
    build_model,
    register_model,
    stsm_mobilenet_v2,
    stsm_resnet18,
    stsm_resnet34,
    stsm_resnet50,
    stsm_resnet101,
)
from stsm_edge.models.insert import insert_shift, residual_blocks, shift_sites
from stsm_edge.models.mobilenet_v2 import InvertedResidual, MobileNetV2
from stsm_edge.models.resnet import BasicBlock, Bottleneck, ResNet, resnet, resnet50
from stsm_edge.models.tsn import ModelConfig, TemporalSegmentNetwork, replace_head
from stsm_edge.models.weights import WEIGHTS, LoadReport, Weights, get_weights, load_state_dict

__all__ = [
    "MODELS", "WEIGHTS", "BasicBlock", "Bottleneck", "InvertedResidual", "LoadReport", "MobileNetV2", "ModelConfig",
    "ResNet",
    "TemporalSegmentNetwork", "Weights", "build_model", "get_weights", "insert_shift", "load_state_dict",
    "register_model", "replace_head", "residual_blocks", "resnet", "resnet50", "shift_sites",
    "stsm_mobilenet_v2", "stsm_resnet18", "stsm_resnet34", "stsm_resnet50", "stsm_resnet101",
]
