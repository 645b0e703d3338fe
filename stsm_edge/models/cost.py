"""What a model costs: parameters and FLOPs of one clip, and the same beside its unshifted twin."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from stsm_edge.models.builders import build_model
from stsm_edge.models.tsn import ModelConfig, TemporalSegmentNetwork


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@dataclass
class ModelCost:
    name: str
    params: int
    flops: int  # multiply-adds count as 2 FLOPs (torch.utils.flop_counter's convention)


def count_flops(model: TemporalSegmentNetwork, height: int = 224, width: int = 224) -> int:
    clip = torch.zeros(1, model.n_segments, 3, height, width)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.eval()(clip)
    return counter.get_total_flops()


def model_cost(name: str, model: TemporalSegmentNetwork, height: int = 224, width: int = 224) -> ModelCost:
    return ModelCost(name, count_parameters(model), count_flops(model, height, width))


def compare_with_plain(config: ModelConfig, height: int = 224, width: int = 224) -> tuple[ModelCost, ModelCost]:
    """The shifted model beside the same backbone with no shift (TSN)."""
    shifted = build_model(config)
    plain = build_model(ModelConfig(**{**config.to_dict(), "dims": ""}))
    return model_cost(f"STSM({config.dims})-{config.backbone}", shifted, height, width), \
        model_cost(f"plain {config.backbone}", plain, height, width)
