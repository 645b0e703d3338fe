"""Weights as data, in torchvision's manner: a registry of named weights a builder can take (`weights="imagenet"`),
and the strict load of a state dict already in our (torchvision's) names, a head of another size replaced.

Files of other layouts (TSM, MMAction2, stsm-edge's own) are the checkpoints room's job: it maps their keys onto
these names and loads through `load_state_dict` here."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from stsm_edge.assets import imagenet_labels, imagenet_weights_path
from stsm_edge.errors import WeightsError
from stsm_edge.models.tsn import RESNET_BACKBONES, TemporalSegmentNetwork
from stsm_edge.preprocess import PreprocessSpec

log = logging.getLogger(__name__)

HEAD_KEYS = {"mobilenet_v2": "classifier.1", **{backbone: "fc" for backbone in RESNET_BACKBONES}}


@dataclass(frozen=True)
class Weights:
    """Named weights: the backbone and width they fit, where the file is, the labels of their head, their input."""

    name: str
    backbone: str
    path: Callable[[], Path]
    labels: Callable[[], list[str]]
    preprocess: PreprocessSpec = field(default_factory=PreprocessSpec)
    width_mult: float = 1.0


WEIGHTS: dict[str, Weights] = {weights.name: weights for weights in (
    Weights("imagenet", "mobilenet_v2", imagenet_weights_path, imagenet_labels),  # torchvision's, shipped offline
)}


def get_weights(name: str) -> Weights:
    """The registry entry called `name`; a file path is refused, since files go through the checkpoints loader."""
    if name in WEIGHTS:
        return WEIGHTS[name]
    if Path(name).suffix or "/" in name or Path(name).exists():
        raise WeightsError(f"weights={name!r} is a file: load files with stsm_edge.checkpoints.load_weights(model, "
                           "path) or load_model(path)")
    raise WeightsError(f"unknown weights {name!r}; choose one of {', '.join(WEIGHTS)}")


@dataclass
class LoadReport:
    source: str
    layout: str  # the name of the layout the keys were read as
    preprocess: PreprocessSpec = field(default_factory=PreprocessSpec)  # the input the weights expect
    label_order: str = ""  # where the class indices come from
    replaced_head: bool = False
    notes: list[str] = field(default_factory=list)


def load_registered(model: TemporalSegmentNetwork, name: str) -> LoadReport:
    """Load the registry's weights called `name` into `model`."""
    weights = get_weights(name)
    if model.config.backbone != weights.backbone:
        raise WeightsError(f"the {name} weights are {weights.backbone}'s, not {model.config.backbone}'s")
    if model.config.width_mult != weights.width_mult:
        raise WeightsError(f"the {name} weights are for width {weights.width_mult}, not {model.config.width_mult}: "
                           "start from no weights (--pretrained none) or a checkpoint of that width")
    path = weights.path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    report = load_state_dict(model, state, path.name)
    report.preprocess = weights.preprocess
    return report


def load_state_dict(model: TemporalSegmentNetwork, state: dict[str, Tensor], source: str,
                    layout: str = "torchvision") -> LoadReport:
    """Load `state`, in torchvision's key names, strictly into the model's backbone; a head of another size (or
    none) leaves the model's freshly initialised head, and the report says so."""
    backbone = model.backbone
    own = backbone.state_dict()
    head = HEAD_KEYS[model.config.backbone]
    head_keys = {head + ".weight", head + ".bias"}
    report = LoadReport(source, layout)
    head_weight = state.get(head + ".weight")
    if head_weight is not None and head_weight.shape != own[head + ".weight"].shape:
        state = {k: v for k, v in state.items() if not k.startswith(head + ".")}
        report.replaced_head = True
        report.notes.append(f"head of {head_weight.shape[0]} classes replaced by a new one of "
                            f"{own[head + '.weight'].shape[0]} (freshly initialised)")
    missing = sorted(set(own) - set(state) - (head_keys if report.replaced_head else set()))
    unexpected = sorted(set(state) - set(own))
    if head + ".weight" not in state and not report.replaced_head and set(missing) <= head_keys:
        report.replaced_head, missing = True, []
        report.notes.append("checkpoint has no classifier head; the model keeps a freshly initialised one")
    if missing or unexpected:
        raise WeightsError(f"{source}: weights ({layout} layout) do not fit {model.config.backbone}: "
                           f"missing keys {_names(missing)}; unexpected keys {_names(unexpected)}")
    shape_errors = [k for k, v in state.items() if v.shape != own[k].shape]
    if shape_errors:
        k = shape_errors[0]
        raise WeightsError(f"{source}: key {k} has shape {tuple(state[k].shape)}, the model expects "
                           f"{tuple(own[k].shape)}")
    backbone.load_state_dict(state, strict=not report.replaced_head)
    for note in report.notes:
        log.warning("%s: %s", source, note)
    return report


def _names(keys: list[str], limit: int = 6) -> str:
    if not keys:
        return "none"
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")
