"""The deploy variant of the shift must compute exactly what the training variant computes."""

import pytest
import torch
from stsm_edge.converters.deploy import DeployClipShift, DeployStreamingSite, channel_offsets, deploy_variant

from stsm_edge.forms import ClipForm
from stsm_edge.models import stsm_mobilenet_v2
from stsm_edge.shift import SpatioTemporalShift, spatiotemporal_shift
from stsm_edge.streaming import initial_states, to_streaming

SIZE, T = 64, 4


def small_model(**kwargs):
    torch.manual_seed(0)
    return stsm_mobilenet_v2(num_classes=7, n_segments=T, width_mult=0.35, **kwargs).eval()


def max_diff(a, b):
    return max((x - y).abs().max().item() for x, y in zip(a, b))


@pytest.mark.parametrize("dims", ["THW", "HTW", "WH", "T"])
@pytest.mark.parametrize("causal", [False, True])
def test_clip_deploy_variant_equals_training_form(dims, causal):
    form = ClipForm(small_model(dims=dims, causal=causal))
    clip = torch.randn(1, T, 3, SIZE, SIZE)
    deployed = deploy_variant(form, (clip,))
    assert any(isinstance(m, DeployClipShift) for m in deployed.modules())
    with torch.no_grad():
        assert max_diff(form(clip), deployed(clip)) <= 1e-6


@pytest.mark.parametrize("dims", ["THW", "HWT"])
def test_streaming_deploy_variant_equals_training_form_over_frames(dims):
    streaming = to_streaming(small_model(dims=dims, causal=True))
    states = initial_states(streaming, SIZE, SIZE)
    deployed = deploy_variant(streaming, (torch.zeros(1, 3, SIZE, SIZE), *states))
    assert sum(isinstance(m, DeployStreamingSite) for m in deployed.modules()) == len(states) > 0
    ref_states, dep_states = list(states), list(states)
    with torch.no_grad():
        for _ in range(3):  # states carried: frame 2 and 3 read non-zero memory
            frame = torch.randn(1, 3, SIZE, SIZE)
            ref, dep = streaming(frame, *ref_states), deployed(frame, *dep_states)
            assert max_diff(ref, dep) <= 1e-6
            ref_states, dep_states = list(ref[1:]), list(dep[1:])


@pytest.mark.parametrize("channels,fold_div", [(24, 8), (17, 3), (5, 4), (3, 8)])
def test_one_hot_conv_matches_shift_op_on_odd_group_sizes(channels, fold_div):
    """Group sizes of 1 and odd halves, where the +1/-1 split is easiest to get wrong."""
    x = torch.randn(2, channels, 5, 6)
    site = DeployClipShift(SpatioTemporalShift(2, "HTW", fold_div), channels)
    assert torch.equal(site(x), spatiotemporal_shift(x, 2, "HTW", fold_div))
    assert len(channel_offsets(channels, "HTW", fold_div)) == channels


def test_deploy_variant_leaves_the_original_untouched():
    streaming = to_streaming(small_model(causal=True))
    before = {k: v.clone() for k, v in streaming.state_dict().items()}
    deploy_variant(streaming, (torch.zeros(1, 3, SIZE, SIZE), *initial_states(streaming, SIZE, SIZE)))
    assert not any(isinstance(m, DeployStreamingSite) for m in streaming.modules())
    assert all(torch.equal(before[k], v) for k, v in streaming.state_dict().items())
