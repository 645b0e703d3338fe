"""Builders with weights, in torchvision's style: `stsm_mobilenet_v2(weights="imagenet")`.

They sit above both the model (models.tsn) and the loaders (weights), which needs the model, so neither
imports the other back."""

from __future__ import annotations

from stsm_edge.models.tsn import ModelConfig, TemporalSegmentNetwork, build_model
from stsm_edge.weights import load_weights


def _build(backbone: str, num_classes: int, weights: str | None, **kwargs) -> TemporalSegmentNetwork:
    model = build_model(ModelConfig(backbone=backbone, num_classes=num_classes, **kwargs))
    if weights is not None:
        load_weights(model, weights)
    return model


def stsm_mobilenet_v2(
    num_classes: int = 1000,
    n_segments: int = 8,
    dims: str = "THW",
    fold_div: int = 8,
    causal: bool = False,
    width_mult: float = 1.0,
    dropout: float = 0.5,
    weights: str | None = None,
) -> TemporalSegmentNetwork:
    """STSM-MobileNetV2. `weights`: "imagenet", or a path to a torchvision / TSM / stsm-edge file."""
    return _build("mobilenet_v2", num_classes, weights, n_segments=n_segments, dims=dims, fold_div=fold_div,
                  causal=causal, width_mult=width_mult, dropout=dropout)


def stsm_resnet50(
    num_classes: int = 1000,
    n_segments: int = 8,
    dims: str = "THW",
    fold_div: int = 8,
    causal: bool = False,
    dropout: float = 0.5,
    weights: str | None = None,
) -> TemporalSegmentNetwork:
    """STSM-ResNet-50. `weights`: a path to a torchvision / TSM / stsm-edge file."""
    return _build("resnet50", num_classes, weights, n_segments=n_segments, dims=dims, fold_div=fold_div,
                  causal=causal, dropout=dropout)
