"""stsm-edge's own checkpoint: the state dict in torchvision's names plus everything needed to rebuild and run the
model (config, labels, preprocessing, time step); saving, packing for shipping, and reading one back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from stsm_edge.checkpoints.files import read_checkpoint
from stsm_edge.errors import WeightsError
from stsm_edge.fileio import atomic_output
from stsm_edge.models import ModelConfig, TemporalSegmentNetwork
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.timebase import TimeStep

CHECKPOINT_FORMAT = "stsm-edge/checkpoint"


def is_own(data: object) -> bool:
    return isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT


def on_cpu(tree):
    """`tree` (dicts, lists, tuples) with every tensor as a contiguous CPU copy: a checkpoint loads anywhere, the
    same whichever device and memory format trained it."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().to("cpu", memory_format=torch.contiguous_format)
    if isinstance(tree, dict):
        return {key: on_cpu(value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(on_cpu(value) for value in tree)
    return tree


def save_checkpoint(model: TemporalSegmentNetwork, path: Path, labels: list[str] | None = None,
                    preprocess: PreprocessSpec = PreprocessSpec(), extra: dict | None = None,
                    time_step: TimeStep | None = None) -> None:
    """Our own checkpoint: the state dict plus everything needed to rebuild and run the model, in CPU tensors."""
    if labels and len(labels) != model.config.num_classes:
        raise WeightsError(f"{path}: {len(labels)} labels for a head of {model.config.num_classes} classes")
    payload = {"format": CHECKPOINT_FORMAT, "version": 1, "config": model.config.to_dict(),
               "state_dict": model.backbone.state_dict(), "labels": list(labels or []),
               "preprocess": preprocess.to_dict(), "time_step": time_step.to_dict() if time_step else None,
               **(extra or {})}
    with atomic_output(Path(path)) as tmp:
        torch.save(on_cpu(payload), tmp)


def pack_checkpoint(source: Path, target: Path, note: dict | None = None) -> Path:
    """An stsm-edge checkpoint with its float weights stored as fp16 and no optimizer state: half the size, for
    shipping. Loading casts back to the model's fp32 (`load_state_dict` copies into fp32 parameters)."""
    data = read_checkpoint(Path(source))
    if not is_own(data):
        raise WeightsError(f"{source}: not an stsm-edge checkpoint")
    data.pop("optimizer", None)
    data["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in data["state_dict"].items()}
    data.update(note or {})
    with atomic_output(Path(target)) as tmp:
        torch.save(data, tmp)
    return Path(target)


@dataclass(frozen=True)
class OwnRecord:
    """What an stsm-edge checkpoint records of itself, checked against itself."""

    config: ModelConfig
    labels: list[str]
    preprocess: PreprocessSpec
    time_step: TimeStep | None


def own_record(data: dict, path: Path) -> OwnRecord:
    try:
        config = ModelConfig.from_dict(data["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: an stsm-edge checkpoint with no usable model config ({exc})") from None
    labels = list(data.get("labels") or [])
    if labels and len(labels) != config.num_classes:
        raise WeightsError(f"{path}: the checkpoint lists {len(labels)} labels for a head of "
                           f"{config.num_classes} classes")
    preprocess = PreprocessSpec.from_dict(data["preprocess"]) if "preprocess" in data else PreprocessSpec()
    return OwnRecord(config, labels, preprocess, TimeStep.from_dict(data.get("time_step")))
