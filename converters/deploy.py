"""The shift's deploy variant: the same function as the training variant, in fewer and cheaper ops.

The training variant (stsm_edge.shift) builds each shifted group from slices, zero pads and a cat: per
site about a dozen small copy ops, which cost int8 XNNPACK far more than their bytes suggest. Here
all channels — both spatial groups and the pass-through rest, and the T group whose output is then
replaced — go through ONE fixed depthwise 3x3 conv whose kernel per channel is a one-hot tap: (1+dh, 1+dw) for a channel that
reads x[h+dh, w+dw], the centre for a channel that does not move. Zero padding 1 gives the zero fill
at the border, and with one non-zero weight of exactly 1.0 every output is the input value itself, so
the rewrite is exact in fp32; in int8 the weight quantizes to exactly 127 * (1/127).

The T group cannot be a conv (it reads another frame, or the previous frame's state), so it is
spliced back in with one cat. `benchmarks/shift_overhead.py` measures this variant against the
training variant; the alternatives that were measured and lost are listed in its docstring.

The clip model's average over T is rewritten too, as a 4-D mean over the innermost axes: the only
mean XNNPACK takes, so the clip form lowers with nothing left outside the delegate.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from stsm_edge.models.tsn import TemporalSegmentNetwork
from stsm_edge.shift import SpatioTemporalShift, group_size, shift_time
from stsm_edge.streaming import StreamingModel, StreamingShiftSite, reset_states


def channel_offsets(channels: int, dims: str, fold_div: int) -> list[tuple[int, int] | None]:
    """Per channel, the (dh, dw) it reads from, as stsm_edge.shift defines; None for the T group."""
    g = group_size(channels, fold_div)
    if g == 0:
        return [(0, 0)] * channels
    offsets: list[tuple[int, int] | None] = []
    for d in dims:
        if d == "T":
            offsets += [None] * g
            continue
        half = g // 2
        # First half reads index +1, the rest index -1; a group of one channel reads -1.
        steps = [1] * half + [-1] * (g - half)
        offsets += [(s, 0) if d == "H" else (0, s) for s in steps]
    return offsets + [(0, 0)] * (channels - len(offsets))


def one_hot_depthwise(offsets: list[tuple[int, int] | None]) -> nn.Conv2d:
    """Depthwise 3x3 conv moving each channel by its offset; T-group channels (None) pass unchanged."""
    conv = nn.Conv2d(len(offsets), len(offsets), 3, padding=1, groups=len(offsets), bias=False)
    weight = torch.zeros_like(conv.weight)
    for c, offset in enumerate(offsets):
        dh, dw = offset or (0, 0)
        weight[c, 0, 1 + dh, 1 + dw] = 1.0
    conv.weight = nn.Parameter(weight, requires_grad=False)
    return conv


class DeployShift(nn.Module):
    """Shared body: one depthwise conv for the moving channels, then the T group spliced in."""

    def __init__(self, channels: int, dims: str, fold_div: int) -> None:
        super().__init__()
        self.dims, self.fold_div = dims, fold_div
        offsets = channel_offsets(channels, dims, fold_div)
        self.conv = one_hot_depthwise(offsets)
        t_channels = [c for c, o in enumerate(offsets) if o is None]
        self.t_range = (t_channels[0], t_channels[-1] + 1) if t_channels else None

    def spatial(self, x: Tensor) -> Tensor:
        return self.conv(x)

    def splice(self, moved: Tensor, t_group: Tensor) -> Tensor:
        start, end = self.t_range
        pieces = [moved[:, :start], t_group, moved[:, end:]]
        return torch.cat([p for p in pieces if p.shape[1]], dim=1)

    def t_group(self, x: Tensor) -> Tensor:
        start, end = self.t_range
        return x[:, start:end]


class DeployClipShift(DeployShift):
    """Clip form: the T group still shifts across the clip's frames, with the training variant's code."""

    def __init__(self, shift: SpatioTemporalShift, channels: int) -> None:
        super().__init__(channels, shift.dims, shift.fold_div)
        self.n_segments, self.causal = shift.n_segments, shift.causal

    def forward(self, x: Tensor) -> Tensor:
        moved = self.spatial(x)
        if self.t_range is None:
            return moved
        return self.splice(moved, shift_time(self.t_group(x), self.n_segments, self.causal))


class DeployStreamingSite(StreamingShiftSite):
    """Streaming form: the T group is the previous frame's state; this frame's leaves as new state."""

    def __init__(self, site: StreamingShiftSite, channels: int) -> None:
        super().__init__(SpatioTemporalShift(1, site.dims, site.fold_div), site.name)
        self.body = DeployShift(channels, site.dims, site.fold_div)

    def forward(self, x: Tensor) -> Tensor:
        moved = self.body.spatial(x)
        if not self.has_state(x.shape[1]):
            return moved
        current = self.body.t_group(x)
        if self.state_in is None or self.state_in.shape != current.shape:
            got = None if self.state_in is None else tuple(self.state_in.shape)
            raise ValueError(f"state must have shape {tuple(current.shape)}, got {got}")
        self.state_out = current
        return self.body.splice(moved, self.state_in)


class DeployConsensus(nn.Module):
    """TSN's clip logits (mean of the T frame logits) with the mean as (N, K, T, 1) over axes 2 and 3."""

    def __init__(self, model: TemporalSegmentNetwork) -> None:
        super().__init__()
        self.backbone, self.n_segments = model.backbone, model.n_segments

    def forward(self, clips: Tensor) -> Tensor:
        n, t = clips.shape[:2]
        frame_logits = self.backbone(clips.reshape(n * t, *clips.shape[2:])).reshape(n, t, -1)
        return frame_logits.transpose(1, 2).unsqueeze(-1).mean((2, 3), keepdim=True).flatten(1)


def _site_channels(module: nn.Module, example: tuple[Tensor, ...]) -> dict[nn.Module, int]:
    """Input channels of every shift site, from one forward pass (sites do not know their width)."""
    channels: dict[nn.Module, int] = {}
    sites = [m for m in module.modules() if isinstance(m, (SpatioTemporalShift, StreamingShiftSite))]
    hooks = [s.register_forward_pre_hook(lambda m, args: channels.__setitem__(m, args[0].shape[1])) for s in sites]
    try:
        with torch.no_grad():
            module(*example)
    finally:
        for hook in hooks:
            hook.remove()
    return channels


def deploy_variant(module: nn.Module, example_inputs: tuple[Tensor, ...]) -> nn.Module:
    """A copy of a clip or streaming form (explicit states or kept inside) with every shift site (and the
    clip mean) in deploy variant.

    `example_inputs` is one input tuple of `module` (shapes matter, values do not): the sites'
    channel counts come from running it once.
    """
    module = copy.deepcopy(module).eval()
    channels = _site_channels(module, example_inputs)
    reset_states(module)  # a module that keeps its states inside must not start from the probe frame's
    if isinstance(module, TemporalSegmentNetwork):
        module = DeployConsensus(module)
    replaced: dict[nn.Module, nn.Module] = {}
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, TemporalSegmentNetwork):
                setattr(parent, name, DeployConsensus(child))
            # A site that moves nothing (no dims, or fewer channels than fold_div) stays as it is.
            if child not in channels or not child.dims or group_size(channels[child], child.fold_div) == 0:
                continue
            if isinstance(child, DeployStreamingSite):  # already in deploy variant
                continue
            if isinstance(child, StreamingShiftSite):
                new: nn.Module = DeployStreamingSite(child, channels[child])
            else:
                new = DeployClipShift(child, channels[child])
            setattr(parent, name, new)
            replaced[child] = new
    # StreamingModel keeps its sites in forward order to hand states in and out.
    for streaming in (m for m in module.modules() if isinstance(m, StreamingModel)):
        streaming.sites = [replaced.get(site, site) for site in streaming.sites]
    return module

