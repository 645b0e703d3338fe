"""Plug-and-play: put the shift into every residual block of a backbone, where TSM puts it."""

from __future__ import annotations

from torch import nn

from stsm_edge.shift import ShiftConfig, SpatioTemporalShift


def residual_blocks(model: nn.Module) -> list[nn.Module]:
    """Blocks with a `shift` slot and a residual connection, in forward order."""
    return [m for m in model.modules() if hasattr(m, "shift") and getattr(m, "has_residual", False)]


def insert_shift(model: nn.Module, n_segments: int, dims: str = "THW", fold_div: int = 8, causal: bool = False,
                 every: int = 1) -> nn.Module:
    """Fill the `shift` slot of residual blocks (before the branch's first conv) in place: every block, or with
    `every` = n the blocks whose index in their stage is a multiple of n, as TSM does in ResNet-101 (n = 2).

    The op has no parameters, so the model's state dict keys are unchanged.
    """
    config = ShiftConfig(dims, fold_div, causal)
    blocks = residual_blocks(model)
    if not blocks:
        raise ValueError(f"{type(model).__name__} has no residual block with a shift slot")
    index_in_stage = {id(block): int(name.rpartition(".")[2]) for name, block in model.named_modules()
                      if name.rpartition(".")[2].isdigit()}
    for block in blocks:
        shifted = dims and index_in_stage.get(id(block), 0) % every == 0
        block.shift = SpatioTemporalShift(n_segments, config.dims, config.fold_div, config.causal) if shifted \
            else nn.Identity()
    return model


def shift_sites(model: nn.Module) -> list[SpatioTemporalShift]:
    return [m for m in model.modules() if isinstance(m, SpatioTemporalShift)]
