"""What `stsm-edge info` reports: the shift's cost in params, FLOPs and streaming state."""

from __future__ import annotations

from dataclasses import dataclass

from stsm_edge.errors import InputError
from stsm_edge.models import ModelConfig, build_model
from stsm_edge.models.cost import compare_with_plain
from stsm_edge.models.tsn import BACKBONES
from stsm_edge.options import option
from stsm_edge.shift import METHODS, ShiftConfig, preset_name, resolve_shift
from stsm_edge.streaming import StateSpec, state_spec


def streaming_state(config: ModelConfig, height: int = 224, width: int = 224) -> list[StateSpec]:
    causal = build_model(ModelConfig(**{**config.to_dict(), "causal": True}))
    return state_spec(causal, height, width)


@dataclass(frozen=True)
class ShiftCostQuery:
    """A model described by its shift preset (or custom shift) and input size, as `stsm-edge info` takes it."""

    backbone: str = option("mobilenet_v2", "", choices=BACKBONES)
    segments: int = option(8, "frames per clip (T)")
    width_mult: float = option(1.0, "")
    size: int = option(224, "input side in pixels")
    method: str = option("stsm", "shift preset, or custom with --dims/--fold-div/--causal", choices=METHODS)
    dims: str | None = option(None, "custom shift: dimensions that shift, in order (letters of THW)")
    fold_div: int | None = option(None, "custom shift: each dimension's group is C // fold_div (default 8)")
    causal: bool | None = option(None, "custom shift: the T group takes frame t-1 only")

    def model_config(self) -> ModelConfig:
        try:
            shift = resolve_shift(self.method, self.dims, self.fold_div, self.causal)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return ModelConfig(backbone=self.backbone, n_segments=self.segments, dims=shift.dims, fold_div=shift.fold_div,
                           causal=shift.causal, width_mult=self.width_mult)

    def report(self) -> str:
        return shift_report(self.model_config(), self.size)


def shift_report(config: ModelConfig, size: int) -> str:
    """`stsm-edge info`: params and FLOPs with and without the shift, and the streaming state it carries."""
    from stsm_edge.console import table

    shifted, plain = compare_with_plain(config, size, size)
    same = shifted.params == plain.params and shifted.flops == plain.flops
    states = streaming_state(config, size, size)
    shift = ShiftConfig(config.dims, config.fold_div, config.causal)
    return "\n".join([
        f"{config.backbone}, T = {config.n_segments}, {size}x{size}, shift {preset_name(shift)} (dims "
        f"{config.dims!r}, fold_div {config.fold_div}, {'causal' if config.causal else 'bidirectional'})",
        table(["model", "params", "GFLOPs (clip)"],
              [[c.name, f"{c.params:,}", f"{c.flops / 1e9:.3f}"] for c in (shifted, plain)]),
        f"shift adds {shifted.params - plain.params} params and {shifted.flops - plain.flops} FLOPs"
        f" ({'equal' if same else 'NOT equal'})",
        f"\nstreaming (causal) states: {len(states)}, {sum(s.nbytes for s in states):,} bytes per frame in fp32",
        table(["state", "shape", "bytes"], [[s.name, "x".join(map(str, s.shape)), f"{s.nbytes:,}"] for s in states])])
