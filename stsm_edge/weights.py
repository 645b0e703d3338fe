"""Loading weights: torchvision ImageNet, TSM checkpoints (offline and online-demo layouts), our own.

Everything is mapped onto torchvision's key names (the backbones use them) and loaded strictly:
a mismatch is one error naming the missing and unexpected keys. A classifier head of another size
is left freshly initialised, and the load report says so.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from stsm_edge.errors import InputError
from stsm_edge.models.tsn import ModelConfig, TemporalSegmentNetwork, build_model
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.timebase import TimeStep

log = logging.getLogger(__name__)

IMAGENET_MOBILENET_V2 = "mobilenet_v2-b0353104.pth"
IMAGENET_MOBILENET_V2_URL = "https://download.pytorch.org/models/" + IMAGENET_MOBILENET_V2
IMAGENET_MOBILENET_V2_SHA256_PREFIX = "b0353104"
CHECKPOINT_FORMAT = "stsm-edge/checkpoint"
HEAD_KEYS = {"mobilenet_v2": "classifier.1", "resnet50": "fc"}


class WeightsError(InputError):
    """Weights that do not fit the model."""


@dataclass
class LoadReport:
    source: str
    layout: str
    replaced_head: bool = False
    notes: list[str] = field(default_factory=list)


def torch_hub_checkpoints() -> Path:
    """torchvision's weight cache: $TORCH_HOME/hub/checkpoints, TORCH_HOME defaulting to ~/.cache/torch."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return Path(torch_home) / "hub" / "checkpoints"


def imagenet_weights_path() -> Path:
    path = torch_hub_checkpoints() / IMAGENET_MOBILENET_V2
    if not path.exists():
        raise WeightsError(f"ImageNet MobileNetV2 weights not found at {path}; run `stsm-edge fetch-assets`")
    return path


def read_checkpoint(path: Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"{path}: no such checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file; the user needs one line
        raise WeightsError(f"{path}: not a loadable PyTorch checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0]})") from exc


def _strip_prefixes(state: dict[str, Tensor]) -> dict[str, Tensor]:
    out = {}
    for key, value in state.items():
        for prefix in ("module.", "base_model.", "backbone."):
            if key.startswith(prefix):
                key = key[len(prefix):]
        out[key.replace(".net.", ".")] = value  # TSM wraps shifted convs as `.net`
    return out


# TSM's own MobileNetV2 keeps each block's layers in one flat Sequential: conv, bn, relu, ...
_FLAT_EXPAND = {"0": "0.0", "1": "0.1", "3": "1.0", "4": "1.1", "6": "2", "7": "3"}
_FLAT_NO_EXPAND = {"0": "0.0", "1": "0.1", "3": "1", "4": "2"}
_FLAT_KEY = re.compile(r"^features\.(\d+)\.conv\.(\d)\.(.+)$")


def _is_flat_mobilenet(state: dict[str, Tensor]) -> bool:
    return "features.1.conv.3.weight" in state and "features.1.conv.0.0.weight" not in state


def _unflatten_mobilenet(state: dict[str, Tensor]) -> dict[str, Tensor]:
    expand_blocks = {m.group(1) for k in state if (m := _FLAT_KEY.match(k)) and m.group(2) == "7"}
    out = {}
    for key, value in state.items():
        match = _FLAT_KEY.match(key)
        if match:
            block, layer, rest = match.groups()
            table = _FLAT_EXPAND if block in expand_blocks else _FLAT_NO_EXPAND
            key = f"features.{block}.conv.{table[layer]}.{rest}"
        out[key] = value
    return out


def _to_torchvision_keys(state: dict[str, Tensor], backbone: str) -> tuple[dict[str, Tensor], str]:
    layout = "torchvision"
    state = _strip_prefixes(state)
    if backbone == "mobilenet_v2" and _is_flat_mobilenet(state):
        state, layout = _unflatten_mobilenet(state), "tsm-mobilenet_v2"
    head = HEAD_KEYS[backbone]
    renamed = {}
    for key, value in state.items():
        if key.startswith("new_fc."):  # TSM's replaced classifier
            key, layout = head + key[len("new_fc"):], "tsm" if layout == "torchvision" else layout
        elif backbone == "mobilenet_v2" and key.startswith("classifier.") and key.count(".") == 1:
            key = head + key[len("classifier"):]  # a bare Linear classifier (TSM online demo)
        renamed[key] = value
    return renamed, layout


def load_state_dict(model: TemporalSegmentNetwork, state: dict[str, Tensor], source: str) -> LoadReport:
    backbone = model.backbone
    state, layout = _to_torchvision_keys(state, model.config.backbone)
    own = backbone.state_dict()
    head = HEAD_KEYS[model.config.backbone]
    report = LoadReport(source, layout)
    head_weight = state.get(head + ".weight")
    if head_weight is not None and head_weight.shape != own[head + ".weight"].shape:
        state = {k: v for k, v in state.items() if not k.startswith(head + ".")}
        report.replaced_head = True
        report.notes.append(f"head of {head_weight.shape[0]} classes replaced by a new one of "
                            f"{own[head + '.weight'].shape[0]} (freshly initialised)")
    missing = sorted(set(own) - set(state) - ({head + ".weight", head + ".bias"} if report.replaced_head else set()))
    unexpected = sorted(set(state) - set(own))
    if head + ".weight" not in state and not report.replaced_head and set(missing) <= {head + ".weight", head + ".bias"}:
        report.replaced_head, missing = True, []
        report.notes.append("checkpoint has no classifier head; the model keeps a freshly initialised one")
    if missing or unexpected:
        raise WeightsError(f"{source}: weights do not fit {model.config.backbone}: "
                           f"missing keys {_names(missing)}; unexpected keys {_names(unexpected)}")
    shape_errors = [k for k, v in state.items() if v.shape != own[k].shape]
    if shape_errors:
        k = shape_errors[0]
        raise WeightsError(f"{source}: key {k} has shape {tuple(state[k].shape)}, the model expects {tuple(own[k].shape)}")
    backbone.load_state_dict(state, strict=not report.replaced_head)
    for note in report.notes:
        log.warning("%s: %s", source, note)
    return report


def _names(keys: list[str], limit: int = 6) -> str:
    if not keys:
        return "none"
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def load_weights(model: TemporalSegmentNetwork, source: str | Path) -> LoadReport:
    """Load "imagenet" or a checkpoint file (torchvision, TSM or stsm-edge) into `model`."""
    if str(source) == "imagenet":
        if model.config.backbone != "mobilenet_v2":
            raise WeightsError("offline ImageNet weights ship for mobilenet_v2 only; pass a ResNet-50 file path")
        source = imagenet_weights_path()
    data = read_checkpoint(Path(source))
    if isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT:
        data = data["state_dict"]
    elif isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]  # TSM's {'epoch', 'arch', 'state_dict', 'best_prec1'}
    if not isinstance(data, dict) or not all(isinstance(v, Tensor) for v in data.values()):
        raise WeightsError(f"{source}: no state dict found in the checkpoint")
    return load_state_dict(model, data, str(source))


@dataclass
class ModelBundle:
    """A model with what running it needs: labels, its input preprocessing, and where it came from."""

    model: TemporalSegmentNetwork
    labels: list[str]
    preprocess: PreprocessSpec
    source: dict
    time_step: TimeStep | None = None  # the step between frames the model learnt; None when unknown


def save_checkpoint(model: TemporalSegmentNetwork, path: Path, labels: list[str] | None = None,
                    preprocess: PreprocessSpec = PreprocessSpec(), extra: dict | None = None,
                    time_step: TimeStep | None = None) -> None:
    """Our own checkpoint: the state dict plus everything needed to rebuild and run the model."""
    from stsm_edge.fileio import atomic_output

    payload = {"format": CHECKPOINT_FORMAT, "version": 1, "config": model.config.to_dict(),
               "state_dict": model.backbone.state_dict(), "labels": list(labels or []),
               "preprocess": preprocess.to_dict(), "time_step": time_step.to_dict() if time_step else None,
               **(extra or {})}
    with atomic_output(Path(path)) as tmp:
        torch.save(payload, tmp)


def pack_checkpoint(source: Path, target: Path, note: dict | None = None) -> Path:
    """An stsm-edge checkpoint with its float weights stored as fp16 and no optimizer state: half the size, for
    shipping. Loading casts back to the model's fp32 (`load_state_dict` copies into fp32 parameters)."""
    from stsm_edge.fileio import atomic_output

    data = read_checkpoint(Path(source))
    if not (isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT):
        raise WeightsError(f"{source}: not an stsm-edge checkpoint")
    data.pop("optimizer", None)
    data["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in data["state_dict"].items()}
    data.update(note or {})
    with atomic_output(Path(target)) as tmp:
        torch.save(data, tmp)
    return Path(target)


def load_model(path: Path) -> ModelBundle:
    """Rebuild a model (eval mode) from an stsm-edge checkpoint, with its labels and preprocessing."""
    path = Path(path)
    data = read_checkpoint(path)
    if not (isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT):
        raise WeightsError(f"{path}: not an stsm-edge checkpoint (no model config inside); "
                           "build the model yourself and use load_weights for torchvision/TSM files")
    model = build_model(ModelConfig.from_dict(data["config"]))
    load_state_dict(model, data["state_dict"], str(path))
    labels = list(data.get("labels") or []) or [f"class_{i}" for i in range(model.config.num_classes)]
    preprocess = PreprocessSpec.from_dict(data["preprocess"]) if "preprocess" in data else PreprocessSpec()
    return ModelBundle(model.eval(), labels, preprocess, {"checkpoint": path.name, "sha256": file_sha256(path)},
                       TimeStep.from_dict(data.get("time_step")))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
