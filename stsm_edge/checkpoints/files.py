"""What every layout shares: reading a checkpoint file safely, finding its state dict, and a layout's description
(how to recognise it, its key maps onto torchvision's names, what its weights imply)."""

from __future__ import annotations

import pickle
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from stsm_edge.architectures import ShiftConfig
from stsm_edge.errors import WeightsError
from stsm_edge.preprocess import PreprocessSpec

KeyMap = tuple[tuple[str, str], ...]
"""Rules (regex, replacement) applied in order to every key, each to what the rules before it left; a key no
rule matches keeps its name. The `(\\w+)$` ends anchor a rule on the parameter name, so a key already renamed
(one more index before the parameter) is not renamed again by a later rule."""


@dataclass(frozen=True)
class Layout:
    """A checkpoint layout: how to recognise it, its keys mapped onto torchvision's per backbone, and what the
    weights imply about their input, classes and shift (a foreign checkpoint stores none of these itself)."""

    name: str
    markers: tuple[str, ...]  # every one of these regexes matches some key of the layout; () for the fallback
    key_maps: dict[str, KeyMap]  # backbone -> rules
    preprocess: PreprocessSpec
    label_order: str
    shift: ShiftConfig | None = None  # the shift the layout's model always has; None: read elsewhere or a fallback
    shift_wrapper: str | None = None  # a regex matching the keys of a layer the shift wraps; None: no such trace

    def matches(self, keys: list[str]) -> bool:
        return bool(self.markers) and all(any(re.search(marker, key) for key in keys) for marker in self.markers)


def read_checkpoint(path: Path) -> dict:
    """A checkpoint's contents, loaded with `weights_only` (no code from the file ever runs). Refusals are one
    sentence; PyTorch's own paragraph stays on the exception chain (shown with -v)."""
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"{path}: no such checkpoint")
    if path.is_dir():
        raise WeightsError(f"{path}: is a folder, not a checkpoint file")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing what it cannot read
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "GLOBAL" in str(exc):  # torch's weights-only unpickler met a class or function it does not allow
            raise WeightsError(f"{path}: refusing to load: the file holds objects other than tensors "
                               "(a pickle that could run code)") from exc
        raise WeightsError(f"{path}: not a PyTorch checkpoint (an unreadable pickle)") from exc
    except Exception as exc:  # torch raises many types for a bad file; the user needs one line
        raise WeightsError(f"{path}: not a PyTorch checkpoint ({type(exc).__name__})") from exc


DATA_PARALLEL_PREFIX = "module."


def state_dict_of(data: object, source: str | Path) -> dict[str, Tensor]:
    """The state dict inside a checkpoint (ours, TSM's {'epoch', 'arch', 'state_dict', 'best_prec1'}, MMAction2's
    {'meta', 'state_dict'}, or a bare one), with DataParallel's `module.` prefix stripped whatever the layout."""
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not data or not all(isinstance(v, Tensor) for v in data.values()):
        raise WeightsError(f"{source}: no state dict found in the checkpoint")
    return {key.removeprefix(DATA_PARALLEL_PREFIX): value for key, value in data.items()}


def apply_key_map(state: dict[str, Tensor], key_map: KeyMap) -> dict[str, Tensor]:
    compiled = [(re.compile(pattern), replacement) for pattern, replacement in key_map]
    out = {}
    for key, value in state.items():
        for pattern, replacement in compiled:
            key = pattern.sub(replacement, key)
        out[key] = value
    return out
