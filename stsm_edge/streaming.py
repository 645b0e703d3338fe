"""The causal model as a per-frame module, with the temporal shift's memory as explicit state or kept inside.

`to_streaming(model)` gives `forward(frame (1, 3, H, W), *states) -> (logits (1, K), *new_states)`.
Each state is the previous frame's T-group channels at one shift site, a 4-D (1, g_T, h, w) tensor,
so every export format can carry it as a named input/output (no 5-D).
Frame t's logits equal the causal clip model's per-frame logits at t.

`InternalStateModel` wraps that module for runtimes that keep state inside the program (ExecuTorch's
mutable buffers, CoreML's iOS 18 states): `forward(frame) -> (logits,)`, the states in buffers.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from stsm_edge.errors import InputError
from stsm_edge.models.tsn import ModelConfig, TemporalSegmentNetwork
from stsm_edge.shift import SpatioTemporalShift, group_size, shift_frame

# Every state is named "state_<block path>"; buffers with this prefix are a stream's state, wherever they sit.
STATE_PREFIX = "state_"


@dataclass(frozen=True)
class StateSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"

    @property
    def nbytes(self) -> int:
        return int(torch.Size(self.shape).numel()) * torch.empty((), dtype=getattr(torch, self.dtype)).element_size()

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


class StreamingShiftSite(nn.Module):
    """A shift site that reads frame t-1's T group from `state_in` and leaves frame t's in `state_out`.

    The streaming wrapper fills and collects these around each backbone call, so the backbone's own
    forward stays untouched and any model built from shift-slot blocks streams.
    """

    def __init__(self, shift: SpatioTemporalShift, name: str) -> None:
        super().__init__()
        self.dims, self.fold_div, self.name = shift.dims, shift.fold_div, name
        self.state_in: Tensor | None = None
        self.state_out: Tensor | None = None

    def has_state(self, channels: int) -> bool:
        return "T" in self.dims and group_size(channels, self.fold_div) > 0

    def forward(self, x: Tensor) -> Tensor:
        if not self.has_state(x.shape[1]):
            return shift_frame(x, None, self.dims, self.fold_div)[0]
        out, self.state_out = shift_frame(x, self.state_in, self.dims, self.fold_div)
        return out


class StreamingModel(nn.Module):
    def __init__(self, backbone: nn.Module, sites: list[StreamingShiftSite], config: ModelConfig, state_names: list[str]) -> None:
        super().__init__()
        self.backbone = backbone
        self.config = config
        self.sites = sites  # registered through backbone; kept here in forward order
        self.state_names = state_names

    def _stateful_sites(self) -> list[StreamingShiftSite]:
        return [s for s in self.sites if s.name in self.state_names]

    def forward(self, frame: Tensor, *states: Tensor) -> tuple[Tensor, ...]:
        sites = self._stateful_sites()
        if len(states) != len(sites):
            raise ValueError(f"expected {len(sites)} states, got {len(states)}")
        for site, state in zip(sites, states):
            site.state_in = state
        try:
            logits = self.backbone(frame)
            new_states = tuple(site.state_out for site in sites)
        finally:
            for site in sites:
                site.state_in = site.state_out = None
        return (logits, *new_states)


def _site_name(block_path: str) -> str:
    return STATE_PREFIX + block_path.replace(".", "_")


def to_streaming(model: TemporalSegmentNetwork) -> StreamingModel:
    """Per-frame module of a causal model (a copy; the clip model is left as it is)."""
    if model.config.dims and "T" in model.config.dims and not model.config.causal:
        raise InputError("the stream form needs a causal model, and this one's temporal shift is bidirectional (it "
                         "reads frame t+1, which a live stream does not have yet): make a causal student with "
                         "`stsm-edge distill`, or, if the file is TSM's online-demo model, load it with "
                         "--method tsm_online")
    backbone = copy.deepcopy(model.backbone).eval()
    sites: list[StreamingShiftSite] = []
    for path, block in backbone.named_modules():
        if isinstance(getattr(block, "shift", None), SpatioTemporalShift):
            block.shift = StreamingShiftSite(block.shift, _site_name(path))
            sites.append(block.shift)
    streaming = StreamingModel(backbone, sites, model.config, [])
    streaming.state_names = [spec.name for spec in _probe_states(streaming, 224, 224)] if sites else []
    return streaming.eval()


def _probe_states(streaming: StreamingModel, height: int, width: int) -> list[StateSpec]:
    """Which sites carry state, and their shapes, from one forward pass on a dummy frame."""
    specs: list[StateSpec] = []

    def record(site: StreamingShiftSite, args: tuple[Tensor]) -> tuple[Tensor]:
        x = args[0]
        if site.has_state(x.shape[1]):
            shape = (1, group_size(x.shape[1], site.fold_div), x.shape[2], x.shape[3])
            specs.append(StateSpec(site.name, shape))
            site.state_in = torch.zeros(shape, dtype=x.dtype)
        return args

    hooks = [site.register_forward_pre_hook(record) for site in streaming.sites]
    try:
        with torch.no_grad():
            dtype = next(streaming.backbone.parameters()).dtype
            streaming.backbone(torch.zeros(1, 3, height, width, dtype=dtype))
    finally:
        for hook in hooks:
            hook.remove()
        for site in streaming.sites:
            site.state_in = site.state_out = None
    return specs


class InternalStateModel(nn.Module):
    """The streaming model with its states inside: `forward(frame) -> (logits,)`.

    One zero buffer per state; each call hands the buffers to the explicit `streaming` module as its
    states and copies the new states back (`register_buffer` + `copy_`, ExecuTorch's pattern for recurrent
    state), so an exported program takes one frame and returns logits. Built on the explicit module, so
    the deploy shift variant and int8 quantization reach the same sites inside it. `reset()` starts a new stream.
    """

    def __init__(self, streaming: StreamingModel, states: list[StateSpec]) -> None:
        super().__init__()
        self.streaming = streaming
        self.state_names = [spec.name for spec in states]
        for spec in states:
            self.register_buffer(spec.name, torch.zeros(spec.shape, dtype=getattr(torch, spec.dtype)))

    def forward(self, frame: Tensor) -> tuple[Tensor]:
        logits, *new_states = self.streaming(frame, *(getattr(self, name) for name in self.state_names))
        for name, new in zip(self.state_names, new_states):
            getattr(self, name).copy_(new)
        return (logits,)

    def reset(self) -> None:
        reset_states(self)


def reset_states(module: nn.Module) -> nn.Module:
    """Zero every state a module keeps inside: the start of a new stream.

    Found by name, so it also reaches a graph made from an InternalStateModel (a PT2E-quantized copy keeps
    the buffers' names but not the class). A module without internal state is left as it is.
    """
    with torch.no_grad():
        for name, buffer in module.named_buffers():
            if name.rpartition(".")[2].startswith(STATE_PREFIX):
                buffer.zero_()
    return module


def state_spec(model: TemporalSegmentNetwork | StreamingModel, height: int, width: int) -> list[StateSpec]:
    """Name and shape of each state, in the order `forward` takes and returns them."""
    streaming = model if isinstance(model, StreamingModel) else to_streaming(model)
    return _probe_states(streaming, height, width)


def initial_states(model: TemporalSegmentNetwork | StreamingModel, height: int, width: int) -> list[Tensor]:
    """Zero states: the causal shift's zero fill before the first frame."""
    return [torch.zeros(spec.shape) for spec in state_spec(model, height, width)]
