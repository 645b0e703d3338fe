"""Models: torchvision layout, where the shift goes, zero params and FLOPs, TSN head."""

import importlib

import pytest
import torch

from stsm_edge.models import (
    MobileNetV2,
    ModelConfig,
    build_model,
    insert_shift,
    residual_blocks,
    resnet50,
    shift_sites,
    stsm_mobilenet_v2,
    stsm_resnet50,
)
from stsm_edge.models.cost import count_flops, count_parameters


def test_shift_sites_are_where_tsm_puts_them():
    assert len(shift_sites(stsm_mobilenet_v2())) == 10
    assert len(shift_sites(stsm_resnet50())) == 16


def test_insert_shift_is_plug_and_play_on_a_bare_backbone():
    backbone = MobileNetV2(num_classes=10, width_mult=0.5)
    keys = list(backbone.state_dict())
    insert_shift(backbone, n_segments=4)
    assert list(backbone.state_dict()) == keys  # parameter-free: torchvision keys unchanged
    assert all(block.use_res_connect for block in residual_blocks(backbone))
    # The shortcut keeps the unshifted input: with the branch zeroed, the block is the identity.
    block = residual_blocks(backbone)[0]
    for p in block.conv.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(4, block.out_channels, 8, 8)
    assert torch.equal(block(x), x)


@pytest.mark.parametrize("backbone, t", [("mobilenet_v2", 8), ("resnet50", 2)])
def test_shift_adds_no_params_and_no_flops(backbone, t):
    shifted = build_model(ModelConfig(backbone=backbone, n_segments=t, dims="THW"))
    plain = build_model(ModelConfig(backbone=backbone, n_segments=t, dims=""))
    assert count_parameters(shifted) == count_parameters(plain)
    assert count_flops(shifted) == count_flops(plain) > 0


def test_parameter_counts_match_torchvision():
    # torchvision's published sizes: mobilenet_v2 3,504,872 and resnet50 25,557,032 parameters.
    assert count_parameters(MobileNetV2()) == 3_504_872
    assert count_parameters(resnet50()) == 25_557_032


def test_tsn_head_averages_frame_logits():
    model = stsm_mobilenet_v2(num_classes=7, n_segments=4, width_mult=0.35).eval()
    clips = torch.randn(2, 4, 3, 64, 64)
    with torch.no_grad():
        frames = model(clips, return_frame_logits=True)
        assert frames.shape == (2, 4, 7)
        assert torch.allclose(model(clips), frames.mean(1), atol=1e-6)


def test_shift_mixes_frames_and_plain_does_not():
    shifted = stsm_mobilenet_v2(num_classes=5, n_segments=4, width_mult=0.35).eval()
    plain = build_model(ModelConfig(num_classes=5, n_segments=4, dims="", width_mult=0.35)).eval()
    plain.load_state_dict(shifted.state_dict())
    clips = torch.randn(1, 4, 3, 64, 64)
    changed = clips.clone()
    changed[:, 3] = torch.randn(3, 64, 64)  # only the last frame differs
    with torch.no_grad():
        assert torch.equal(plain(clips, True)[:, 0], plain(changed, True)[:, 0])
        a, b = shifted(clips, True)[:, 2], shifted(changed, True)[:, 2]
        assert (a - b).abs().max() > 1e-3 * a.abs().max()  # frame 2 reads frame 3 through the shift


def test_wrong_clip_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"expected \(N, 4, 3, H, W\)"):
        stsm_mobilenet_v2(n_segments=4, width_mult=0.35)(torch.randn(1, 3, 3, 32, 32))


# Every Python name README shows (its `from stsm_edge... import ...` lines), after the checkpoints/models moves.
README_NAMES = {
    "stsm_edge.models": ["stsm_mobilenet_v2", "stsm_resnet50"],
    "stsm_edge.streaming": ["InternalStateModel", "initial_states", "state_spec", "to_streaming"],
}


@pytest.mark.parametrize("module", sorted(README_NAMES))
def test_readme_names_import(module):
    imported = importlib.import_module(module)
    for name in README_NAMES[module]:
        assert hasattr(imported, name), f"{module}.{name}"
