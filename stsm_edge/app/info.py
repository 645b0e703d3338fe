"""What `stsm-edge info` reports: the shift's cost in params, FLOPs and streaming state."""

from __future__ import annotations

from dataclasses import dataclass

from stsm_edge.architectures import ShiftConfig, preset_name, resolve_shift
from stsm_edge.console import table
from stsm_edge.errors import InputError
from stsm_edge.options import ModelFlags, ShiftFlags

# The models are built inside the job (streaming_state, shift_report): `stsm-edge info --help` loads no torch.


def streaming_state(config, height: int = 224, width: int = 224) -> list:
    """The states (streaming.StateSpec) the causal form of `config` (a models.tsn.ModelConfig) carries."""
    from stsm_edge.models import ModelConfig, build_model
    from stsm_edge.streaming import state_spec

    causal = build_model(ModelConfig(**{**config.to_dict(), "causal": True}))
    return state_spec(causal, height, width)


@dataclass(frozen=True)
class ShiftCostQuery:
    """A model described by its shift preset (or custom shift) and input size, as `stsm-edge info` takes it."""

    backbone: str = ModelFlags.backbone.field("mobilenet_v2")
    segments: int = ModelFlags.segments.field(8)
    width_mult: float = ModelFlags.width_mult.field(1.0)
    size: int = ModelFlags.size.field(224)
    method: str = ShiftFlags.method.field("stsm")
    dims: str | None = ShiftFlags.dims.field(None)
    fold_div: int | None = ShiftFlags.fold_div.field(None)
    causal: bool | None = ShiftFlags.causal.field(None)

    def model_config(self):
        from stsm_edge.models.tsn import ModelConfig

        try:
            shift = resolve_shift(self.method, self.dims, self.fold_div, self.causal)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return ModelConfig(backbone=self.backbone, n_segments=self.segments, dims=shift.dims, fold_div=shift.fold_div,
                           causal=shift.causal, width_mult=self.width_mult)

    def report(self) -> str:
        return shift_report(self.model_config(), self.size)


def shift_report(config, size: int) -> str:
    """`stsm-edge info`: params and FLOPs with and without the shift, and the streaming state it carries."""
    from stsm_edge.models.cost import compare_with_plain

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
