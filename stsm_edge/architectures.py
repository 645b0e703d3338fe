"""The names a model is built from, torch-free so that flags and `--help` can offer them: the backbones, the
shift (`ShiftConfig`), its named presets and how a method name resolves to one (`resolve_shift`)."""

from __future__ import annotations

from dataclasses import dataclass

# ResNet depths by name (models/resnet.py builds each: BasicBlock for 18/34, Bottleneck for 50/101).
RESNET_BACKBONES = {f"resnet{depth}": depth for depth in (18, 34, 50, 101)}
BACKBONES = ("mobilenet_v2", *RESNET_BACKBONES)
# A model's two deployable forms (forms.py), and where a stream keeps the shift's memory (streaming.py).
FORMS = ("clip", "stream")
STATE_LOCATIONS = ("explicit", "internal")
# The checkpoint layouts the loader reads, in detection order (checkpoints.detect.LAYOUTS).
LAYOUT_NAMES = ("mmaction2", "tsm-online", "tsm-mobilenet_v2", "tsm", "torchvision")

DIM_LETTERS = "THW"


def validate_dims(dims: str) -> None:
    unknown = [d for d in dims if d not in DIM_LETTERS]
    if unknown:
        raise ValueError(f"unknown shift dimension {unknown[0]!r} in dims={dims!r}; use letters of {DIM_LETTERS!r}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"dims={dims!r} names a dimension twice")


@dataclass(frozen=True)
class ShiftConfig:
    """Which dimensions shift, how many channels per group (C // fold_div), and causality."""

    dims: str = "THW"
    fold_div: int = 8
    causal: bool = False

    def __post_init__(self) -> None:
        validate_dims(self.dims)
        if self.fold_div < max(1, len(self.dims)):
            raise ValueError(f"fold_div={self.fold_div} leaves no room for {len(self.dims) or 1} group(s) of channels")


# The paper's STSM (alpha = 3/8 of channels move), its online form, and TSM's two published shifts.
PRESETS: dict[str, ShiftConfig] = {
    "stsm": ShiftConfig(dims="THW", fold_div=8),
    "stsm_causal": ShiftConfig(dims="THW", fold_div=8, causal=True),
    # TSM offline (shift_div 8): first C//8 channels from t+1, next C//8 from t-1.
    "tsm": ShiftConfig(dims="T", fold_div=4),
    # TSM online demo: first C//8 channels from t-1.
    "tsm_online": ShiftConfig(dims="T", fold_div=8, causal=True),
    # No shift at all: plain TSN, the baseline the shift is measured against.
    "tsn": ShiftConfig(dims="", fold_div=8),
}


CUSTOM = "custom"  # a shift given by explicit dims / fold_div / causal instead of a preset name
METHODS = (*PRESETS, CUSTOM)


def resolve_shift(method: str, dims: str | None = None, fold_div: int | None = None,
                  causal: bool | None = None) -> ShiftConfig:
    """The one way a method name becomes a shift: a preset of PRESETS, or `custom` with explicit settings
    (fold_div 8 and bidirectional unless given). Every entry point (CLI, training, benchmarks, fidelity
    study) comes through here, so "tsm" means the same shift everywhere."""
    if method == CUSTOM:
        if dims is None:
            raise ValueError("a custom shift needs dims (e.g. --dims THW), with optional fold_div and causal")
        return ShiftConfig(dims, 8 if fold_div is None else fold_div, bool(causal))
    if method not in PRESETS:
        raise ValueError(f"unknown shift method {method!r}; choose one of {', '.join(METHODS)}")
    if (dims, fold_div, causal) != (None, None, None):
        raise ValueError(f"dims, fold_div and causal come with the {method!r} preset; use method {CUSTOM!r} to set "
                         "them")
    return PRESETS[method]


def preset_name(config: ShiftConfig) -> str:
    """The preset a shift is, or "custom"; an empty dims is TSN whatever its fold_div."""
    if not config.dims:
        return "tsn"
    return next((name for name, preset in PRESETS.items() if preset == config), CUSTOM)
