"""The spatio-temporal shift (STSM) op: zero parameters, zero FLOPs.

Input is a (N*T, C, H, W) batch holding T frames per clip. For each letter d of `dims`, in the
order given, the next g = C // fold_div channels form d's group; inside the group the first g // 2
channels take x at index +1 along d and the other g - g // 2 take index -1, with zeros where the
index falls outside. With `causal=True` the whole T group takes frame t-1 instead, which is what a
frame-by-frame (online) model can compute: `shift_frame` is that step with the previous frame's T
group passed in as explicit state.

Written only with slices, zero `F.pad` and `cat`: that form lowers whole to XNNPACK (fp32 and
int8) and traces cleanly to ONNX, CoreML and TFLite, where `roll`, `index_select`, `zeros_like`
or slice assignment do not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The shift's settings and presets live torch-free (flags offer them); the guides show them here too.
from stsm_edge.architectures import DIM_LETTERS, PRESETS, ShiftConfig, resolve_shift, validate_dims

__all__ = ["PRESETS", "ShiftConfig", "SpatioTemporalShift", "group_size", "resolve_shift", "shift_frame",
           "shift_time", "spatiotemporal_shift"]


def group_size(channels: int, fold_div: int) -> int:
    """Channels in each shifted dimension's group."""
    return channels // fold_div


def shift_along(x: Tensor, axis: int, step: int) -> Tensor:
    """out[i] = x[i + step] along `axis` for step in {+1, -1}; zero where i + step is out of range."""
    length = x.shape[axis]
    kept = x.narrow(axis, 1, length - 1) if step == 1 else x.narrow(axis, 0, length - 1)
    # F.pad lists (left, right) pairs starting from the last axis.
    pad = [0, 0] * (x.dim() - axis)
    pad[-1 if step == 1 else -2] = 1
    return F.pad(kept, pad)


def _split_shift(group: Tensor, axis: int) -> Tensor:
    """First half of the group takes index +1, the rest index -1."""
    half = group.shape[1] // 2
    if half == 0:
        return shift_along(group, axis, -1)
    forward, backward = group[:, :half], group[:, half:]
    return torch.cat([shift_along(forward, axis, 1), shift_along(backward, axis, -1)], dim=1)


def shift_time(group: Tensor, n_segments: int, causal: bool) -> Tensor:
    nt, g, h, w = group.shape
    clips = group.reshape(nt // n_segments, n_segments, g, h, w)
    # Axis 1 of the 5-D view is time; half-splitting there is along axis 2 (channels).
    if causal:
        shifted = shift_along(clips, 1, -1)
    else:
        half = g // 2
        parts = [shift_along(clips[:, :, half:], 1, -1)]
        if half:
            parts.insert(0, shift_along(clips[:, :, :half], 1, 1))
        shifted = torch.cat(parts, dim=2)
    return shifted.reshape(nt, g, h, w)


def _check(x: Tensor, fold_div: int, dims: str) -> None:
    validate_dims(dims)
    if x.dim() != 4:
        raise ValueError(f"expected a 4-D (N*T, C, H, W) tensor, got shape {tuple(x.shape)}")
    if fold_div < max(1, len(dims)):
        raise ValueError(f"fold_div={fold_div} leaves no room for {len(dims) or 1} group(s) of C // fold_div channels")


def spatiotemporal_shift(
    x: Tensor, n_segments: int, dims: str = "THW", fold_div: int = 8, causal: bool = False
) -> Tensor:
    """Shift channel groups of a (N*T, C, H, W) batch along T, H and/or W (see module doc)."""
    _check(x, fold_div, dims)
    if n_segments < 1 or x.shape[0] % n_segments:
        raise ValueError(f"batch of {x.shape[0]} frames is not divisible by n_segments={n_segments}")
    g = group_size(x.shape[1], fold_div)
    if g == 0 or not dims:
        return x
    parts = []
    for i, d in enumerate(dims):
        group = x[:, i * g : (i + 1) * g]
        if d == "T":
            parts.append(shift_time(group, n_segments, causal))
        else:
            parts.append(_split_shift(group, DIM_LETTERS.index(d) + 1))
    parts.append(x[:, len(dims) * g :])
    return torch.cat(parts, dim=1)


def shift_frame(x: Tensor, previous: Tensor | None, dims: str = "THW",
                fold_div: int = 8) -> tuple[Tensor, Tensor | None]:
    """One frame of the causal shift: the T group is replaced by `previous` (frame t-1's T group).

    Returns (shifted frame, state for the next frame); the state is None when nothing shifts in time.
    """
    _check(x, fold_div, dims)
    g = group_size(x.shape[1], fold_div)
    if g == 0 or not dims:
        return x, None
    parts, state = [], None
    for i, d in enumerate(dims):
        group = x[:, i * g : (i + 1) * g]
        if d == "T":
            if previous is None or tuple(previous.shape) != tuple(group.shape):
                got = None if previous is None else tuple(previous.shape)
                raise ValueError(f"state must have shape {tuple(group.shape)}, got {got}")
            parts.append(previous)
            state = group
        else:
            parts.append(_split_shift(group, DIM_LETTERS.index(d) + 1))
    parts.append(x[:, len(dims) * g :])
    return torch.cat(parts, dim=1), state


class SpatioTemporalShift(nn.Module):
    """`spatiotemporal_shift` as a module, placed before a residual branch's first conv."""

    def __init__(self, n_segments: int, dims: str = "THW", fold_div: int = 8, causal: bool = False) -> None:
        super().__init__()
        validate_dims(dims)
        self.n_segments, self.dims, self.fold_div, self.causal = n_segments, dims, fold_div, causal

    @property
    def config(self) -> ShiftConfig:
        return ShiftConfig(self.dims, self.fold_div, self.causal)

    def forward(self, x: Tensor) -> Tensor:
        return spatiotemporal_shift(x, self.n_segments, self.dims, self.fold_div, self.causal)

    def extra_repr(self) -> str:
        return f"n_segments={self.n_segments}, dims={self.dims!r}, fold_div={self.fold_div}, causal={self.causal}"
