"""The op's contract: hand-worked tensors, an index-by-index reference, TSM's own shifts, and shapes."""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stsm_edge.shift import PRESETS, SpatioTemporalShift, shift_frame, spatiotemporal_shift


def reference_shift(x, n_segments, dims, fold_div, causal):
    """The definition, element by element, written independently of the slicing implementation."""
    nt, c, h, w = x.shape
    t_len, g = n_segments, c // fold_div
    out = x.clone()
    if g == 0:
        return out
    for i, d in enumerate(dims):
        for ch in range(i * g, (i + 1) * g):
            step = -1 if (causal and d == "T") or ch - i * g >= g // 2 else 1
            for b, y, z in itertools.product(range(nt), range(h), range(w)):
                n, t = divmod(b, t_len)
                src = {"T": (t + step, y, z), "H": (t, y + step, z), "W": (t, y, z + step)}[d]
                limit = {"T": t_len, "H": h, "W": w}[d]
                index = src["THW".index(d)]
                out[b, ch, y, z] = x[n * t_len + src[0], ch, src[1], src[2]] if 0 <= index < limit else 0.0
    return out


def numbered(nt, c, h, w):
    return torch.arange(1, nt * c * h * w + 1, dtype=torch.float32).reshape(nt, c, h, w)


def test_hand_worked_temporal_tsm():
    # T = 3 frames, C = 8 channels, 1x1 pixels; frame t channel c holds 10 * t + c.
    x = torch.tensor([[10.0 * t + c for c in range(8)] for t in range(3)]).reshape(3, 8, 1, 1)
    out = spatiotemporal_shift(x, 3, dims="T", fold_div=4).reshape(3, 8)
    # g = 2: channel 0 takes frame t+1, channel 1 takes frame t-1; channels 2..7 unchanged.
    expected = torch.tensor([
        [10, 0, 2, 3, 4, 5, 6, 7],
        [20, 1, 12, 13, 14, 15, 16, 17],
        [0, 11, 22, 23, 24, 25, 26, 27],
    ], dtype=torch.float32)
    assert torch.equal(out, expected)


def test_hand_worked_causal_online():
    x = torch.tensor([[10.0 * t + c for c in range(8)] for t in range(3)]).reshape(3, 8, 1, 1)
    out = spatiotemporal_shift(x, 3, **PRESETS["tsm_online"].__dict__).reshape(3, 8)
    # g = 1: channel 0 takes frame t-1 (TSM online demo), zero at t = 0.
    expected = x.reshape(3, 8).clone()
    expected[:, 0] = torch.tensor([0.0, 0.0, 10.0])
    assert torch.equal(out, expected)


def test_hand_worked_spatial_stsm():
    # One frame, C = 16 (g = 2 per dim), 1x3 pixels: the H group sees H = 1 (all zero after shifting),
    # the W group moves along a row of three: channel 4 takes w+1, channel 5 takes w-1.
    x = numbered(1, 16, 1, 3)
    out = spatiotemporal_shift(x, 1, dims="THW", fold_div=8)
    assert torch.equal(out[0, 0:4], torch.zeros(4, 1, 3))  # T = 1 and H = 1: nothing in range
    assert out[0, 4, 0].tolist() == [x[0, 4, 0, 1].item(), x[0, 4, 0, 2].item(), 0.0]
    assert out[0, 5, 0].tolist() == [0.0, x[0, 5, 0, 0].item(), x[0, 5, 0, 1].item()]
    assert torch.equal(out[0, 6:], x[0, 6:])


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("shape", [(2, 3, 16, 4, 5), (1, 1, 16, 3, 3), (2, 4, 5, 3, 2), (1, 3, 17, 1, 4),
                                   (1, 3, 24, 4, 1), (2, 2, 9, 2, 2)])
def test_presets_match_reference(preset, shape):
    n, t, c, h, w = shape
    cfg = PRESETS[preset]
    x = numbered(n * t, c, h, w)
    got = spatiotemporal_shift(x, t, cfg.dims, cfg.fold_div, cfg.causal)
    assert torch.equal(got, reference_shift(x, t, cfg.dims, cfg.fold_div, cfg.causal))


def tsm_offline_shift(x, n_segment, fold_div=8):
    """TSM's own offline shift (temporal_shift.py), slice assignment and all, as an independent check."""
    nt, c, h, w = x.size()
    x = x.view(nt // n_segment, n_segment, c, h, w)
    fold = c // fold_div
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, 1:, fold : 2 * fold] = x[:, :-1, fold : 2 * fold]
    out[:, :, 2 * fold :] = x[:, :, 2 * fold :]
    return out.view(nt, c, h, w)


def tsm_online_shift(x, buffer):
    """TSM's online demo: first C//8 channels from the previous frame, returned as the new buffer."""
    c = x.size(1)
    x1, x2 = x[:, : c // 8], x[:, c // 8 :]
    return torch.cat((buffer, x2), dim=1), x1


@pytest.mark.parametrize("channels", [8, 16, 64, 96])
def test_tsm_preset_equals_tsm_offline(channels):
    x = torch.randn(2 * 8, channels, 3, 3)
    cfg = PRESETS["tsm"]
    assert torch.equal(spatiotemporal_shift(x, 8, cfg.dims, cfg.fold_div), tsm_offline_shift(x, 8))


def test_tsm_online_preset_equals_tsm_online_demo():
    frames = torch.randn(6, 32, 4, 4)
    cfg = PRESETS["tsm_online"]
    clip = spatiotemporal_shift(frames, 6, cfg.dims, cfg.fold_div, cfg.causal)
    buffer = torch.zeros(1, 4, 4, 4)
    for t in range(6):
        demo, buffer = tsm_online_shift(frames[t : t + 1], buffer)
        assert torch.equal(clip[t : t + 1], demo)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 2), t=st.integers(1, 4), c=st.integers(1, 20), h=st.integers(1, 4), w=st.integers(1, 4),
       dims=st.sampled_from(["THW", "T", "HW", "WTH", "H", ""]), fold_div=st.integers(3, 9), causal=st.booleans())
def test_any_shape_matches_reference(n, t, c, h, w, dims, fold_div, causal):
    x = torch.randn(n * t, c, h, w)
    assert torch.equal(spatiotemporal_shift(x, t, dims, fold_div, causal), reference_shift(x, t, dims, fold_div, causal))


@settings(max_examples=40, deadline=None)
@given(t=st.integers(1, 5), c=st.integers(1, 24), h=st.integers(1, 4), w=st.integers(1, 4),
       dims=st.sampled_from(["THW", "T", "TH", "HTW"]), fold_div=st.integers(3, 9))
def test_shift_frame_steps_equal_causal_clip(t, c, h, w, dims, fold_div):
    x = torch.randn(t, c, h, w)
    clip = spatiotemporal_shift(x, t, dims, fold_div, causal=True)
    g = c // fold_div
    i = dims.index("T")
    state = torch.zeros(1, g, h, w)
    for k in range(t):
        out, new_state = shift_frame(x[k : k + 1], state if g else None, dims, fold_div)
        assert torch.equal(out, clip[k : k + 1])
        if g:
            assert torch.equal(new_state, x[k : k + 1, i * g : (i + 1) * g])
            state = new_state


def test_group_of_zero_leaves_input_alone():
    x = torch.randn(4, 7, 3, 3)
    assert torch.equal(spatiotemporal_shift(x, 2, "THW", 8), x)


def test_three_eighths_move():
    x = torch.randn(2 * 8, 64, 6, 6)
    out = spatiotemporal_shift(x, 8, **PRESETS["stsm"].__dict__)
    unchanged = (out == x).flatten(2).all(-1).all(0)
    assert unchanged[24:].all() and not unchanged[:24].any()


@pytest.mark.parametrize("bad, message", [
    (dict(n_segments=3), "not divisible"),
    (dict(n_segments=2, dims="TXW"), "unknown shift dimension 'X'"),
    (dict(n_segments=2, dims="TT"), "twice"),
    (dict(n_segments=2, fold_div=0), "fold_div"),
    (dict(n_segments=2, dims="THW", fold_div=2), "no room"),
])
def test_bad_arguments_are_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        spatiotemporal_shift(torch.randn(4, 16, 2, 2), **bad)


def test_module_matches_function_and_has_no_parameters():
    module = SpatioTemporalShift(4, "THW", 8)
    x = torch.randn(8, 16, 3, 3)
    assert torch.equal(module(x), spatiotemporal_shift(x, 4))
    assert list(module.parameters()) == []
