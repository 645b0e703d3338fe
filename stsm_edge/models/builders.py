"""One builder per architecture behind one registry, in torchvision's manner: `build_model(name, **config)`, the
builders themselves (`stsm_mobilenet_v2(weights="imagenet")`), and `weights=` naming registered weights
(stsm_edge.models.weights). Files of any layout load through stsm_edge.checkpoints, which builds through here."""

from __future__ import annotations

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
        fields = name.to_dict()
        name = builder_name(fields.pop("backbone"))
        if name != builder_name("mobilenet_v2"):
            fields.pop("width_mult")  # ModelConfig refuses a width other than 1.0 for the others
        config = {**fields, **config}
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](**config)


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


@register_model
def stsm_resnet50(
    num_classes: int = 1000,
    n_segments: int = 8,
    dims: str = "THW",
    fold_div: int = 8,
    causal: bool = False,
    dropout: float = 0.5,
    weights: str | None = None,
) -> TemporalSegmentNetwork:
    """STSM-ResNet-50. `weights`: a name in stsm_edge.models.WEIGHTS (none ship for ResNet-50 yet)."""
    return _assemble(ModelConfig("resnet50", num_classes, n_segments, dims, fold_div, causal, dropout=dropout),
                     weights)
