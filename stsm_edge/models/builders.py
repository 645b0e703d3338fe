"""One builder per architecture behind one registry, in torchvision's manner: `build_model(name, **config)`, the
builders themselves (`stsm_mobilenet_v2(weights="imagenet")`), and `weights=` naming registered weights
(stsm_edge.models.weights). Files of any layout load through stsm_edge.checkpoints, which builds through here."""

from __future__ import annotations

import inspect
from dataclasses import fields
from typing import Callable

from stsm_edge.models.tsn import ModelConfig, TemporalSegmentNetwork, assemble_model
from stsm_edge.models.weights import load_registered

MODELS: dict[str, Callable[..., TemporalSegmentNetwork]] = {}


def register_model(builder: Callable[..., TemporalSegmentNetwork]) -> Callable[..., TemporalSegmentNetwork]:
    MODELS[builder.__name__] = builder
    return builder


def builder_name(backbone: str) -> str:
    return f"stsm_{backbone}"


def build_model(name: str | ModelConfig, **config) -> TemporalSegmentNetwork:
    """`build_model("stsm_mobilenet_v2", num_classes=27, weights="imagenet")`; a ModelConfig (what checkpoints and
    sidecars record) is built by its backbone's builder with its fields."""
    if isinstance(name, ModelConfig):
        name, config = builder_name(name.backbone), {**_builder_arguments(name), **config}
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](**config)


def _builder_arguments(config: ModelConfig) -> dict:
    """The config's fields as its builder's arguments; a field the builder does not take (a ResNet's width_mult)
    is one ModelConfig holds at its default, so leaving it out changes nothing."""
    taken = inspect.signature(MODELS[builder_name(config.backbone)]).parameters
    return {f.name: getattr(config, f.name) for f in fields(config) if f.name in taken}


def _assemble(config: ModelConfig, weights: str | None) -> TemporalSegmentNetwork:
    model = assemble_model(config)
    if weights is not None:
        load_registered(model, weights)
    return model


@register_model
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
    """STSM-MobileNetV2. `weights`: a name in stsm_edge.models.WEIGHTS ("imagenet")."""
    return _assemble(ModelConfig("mobilenet_v2", num_classes, n_segments, dims, fold_div, causal, width_mult,
                                 dropout), weights)


def _resnet(depth: int, weights: str | None, **config) -> TemporalSegmentNetwork:
    return _assemble(ModelConfig(f"resnet{depth}", **config), weights)


@register_model
def stsm_resnet18(num_classes: int = 1000, n_segments: int = 8, dims: str = "THW", fold_div: int = 8,
                  causal: bool = False, dropout: float = 0.5, shift_every: int = 1,
                  weights: str | None = None) -> TemporalSegmentNetwork:
    """STSM-ResNet-18 (basic blocks)."""
    return _resnet(18, weights, num_classes=num_classes, n_segments=n_segments, dims=dims, fold_div=fold_div,
                   causal=causal, dropout=dropout, shift_every=shift_every)


@register_model
def stsm_resnet34(num_classes: int = 1000, n_segments: int = 8, dims: str = "THW", fold_div: int = 8,
                  causal: bool = False, dropout: float = 0.5, shift_every: int = 1,
                  weights: str | None = None) -> TemporalSegmentNetwork:
    """STSM-ResNet-34 (basic blocks)."""
    return _resnet(34, weights, num_classes=num_classes, n_segments=n_segments, dims=dims, fold_div=fold_div,
                   causal=causal, dropout=dropout, shift_every=shift_every)


@register_model
def stsm_resnet50(num_classes: int = 1000, n_segments: int = 8, dims: str = "THW", fold_div: int = 8,
                  causal: bool = False, dropout: float = 0.5, shift_every: int = 1,
                  weights: str | None = None) -> TemporalSegmentNetwork:
    """STSM-ResNet-50. `weights`: a name in stsm_edge.models.WEIGHTS (none ship for ResNets yet)."""
    return _resnet(50, weights, num_classes=num_classes, n_segments=n_segments, dims=dims, fold_div=fold_div,
                   causal=causal, dropout=dropout, shift_every=shift_every)


@register_model
def stsm_resnet101(num_classes: int = 1000, n_segments: int = 8, dims: str = "THW", fold_div: int = 8,
                   causal: bool = False, dropout: float = 0.5, shift_every: int = 1,
                   weights: str | None = None) -> TemporalSegmentNetwork:
    """STSM-ResNet-101; TSM's own shift only the first of every two blocks in each stage (shift_every=2)."""
    return _resnet(101, weights, num_classes=num_classes, n_segments=n_segments, dims=dims, fold_div=fold_div,
                   causal=causal, dropout=dropout, shift_every=shift_every)
