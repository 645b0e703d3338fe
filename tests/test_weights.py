"""Weights: real ImageNet MobileNetV2 (offline), TSM checkpoint layouts, our own checkpoints, clear errors."""

import cv2
import pytest
import torch

from stsm_edge.assets import coffee_image_path, imagenet_labels, imagenet_weights_path
from stsm_edge.checkpoints import (
    WeightsError,
    load_model,
    load_weights,
    save_checkpoint,
)
from stsm_edge.models import ModelConfig, build_model, stsm_mobilenet_v2
from stsm_edge.preprocess import PreprocessSpec, preprocess_tensor


def test_plain_mobilenet_v2_sees_espresso():
    plain = build_model(ModelConfig(dims="")).eval()
    load_weights(plain, "imagenet")
    frame = cv2.imread(str(coffee_image_path()))
    with torch.no_grad():
        top1 = plain.backbone(preprocess_tensor(frame)).argmax(-1).item()
    assert imagenet_labels()[top1] == "espresso"


def test_imagenet_weights_load_into_stsm_with_only_the_new_head_missing():
    model = stsm_mobilenet_v2(num_classes=27)
    report = load_weights(model, "imagenet")
    assert report.replaced_head and "replaced" in report.notes[0]
    reference = torch.load(imagenet_weights_path(), weights_only=True)
    own = model.backbone.state_dict()
    assert set(own) == set(reference)
    assert all(torch.equal(own[k], reference[k]) for k in reference if not k.startswith("classifier.1."))


def tsm_offline_mobilenet_state(model):
    """Our backbone's weights rewritten in TSM's MobileNetV2 checkpoint layout (flat blocks, `.net`, new_fc)."""
    flat = {"0.0": "0", "0.1": "1", "1.0": "3", "1.1": "4", "2": "6", "3": "7"}
    flat_no_expand = {"0.0": "0", "0.1": "1", "1": "3", "2": "4"}
    out = {}
    for key, value in model.backbone.state_dict().items():
        parts = key.split(".")
        if parts[0] == "features" and parts[2:3] == ["conv"]:
            block = int(parts[1])
            table = flat_no_expand if block == 1 else flat
            inner = ".".join(parts[3:5]) if ".".join(parts[3:5]) in table else parts[3]
            layer = table[inner]
            rest = parts[3 + len(inner.split(".")):]
            shifted = block in (3, 5, 6, 8, 9, 10, 12, 13, 15, 16) and layer == "0"
            key = ".".join(["features", parts[1], "conv", layer] + (["net"] if shifted else []) + rest)
        elif key.startswith("classifier.1."):
            key = "new_fc." + parts[-1]
        out["module.base_model." + key if not key.startswith("new_fc") else "module." + key] = value
    return {"epoch": 10, "arch": "mobilenetv2", "state_dict": out, "best_prec1": 0.0}


def test_tsm_checkpoint_layout_loads(tmp_path):
    source = stsm_mobilenet_v2(num_classes=174, n_segments=8, dims="T", fold_div=8, width_mult=1.0)
    path = tmp_path / "TSM_something_mobilenetv2.pth"
    torch.save(tsm_offline_mobilenet_state(source), path)
    target = stsm_mobilenet_v2(num_classes=174, n_segments=8, dims="T")
    report = load_weights(target, path)
    assert report.layout == "tsm-mobilenet_v2" and not report.replaced_head
    for key, value in source.backbone.state_dict().items():
        assert torch.equal(target.backbone.state_dict()[key], value), key


def test_resnet_torchvision_style_state_dict_loads(tmp_path):
    source = build_model(ModelConfig(backbone="resnet50", dims=""))
    path = tmp_path / "resnet50.pth"
    torch.save({"module.base_model." + k: v for k, v in source.backbone.state_dict().items()
                if not k.startswith("fc.")} | {"module.new_fc.weight": torch.randn(5, 2048),
                                               "module.new_fc.bias": torch.zeros(5)}, path)
    target = build_model(ModelConfig(backbone="resnet50", num_classes=5))
    assert load_weights(target, path).layout == "tsm"
    assert torch.equal(target.backbone.layer4[2].conv3.weight, source.backbone.layer4[2].conv3.weight)


def test_wrong_key_is_named(tmp_path):
    state = dict(stsm_mobilenet_v2(num_classes=10, width_mult=0.35).backbone.state_dict())
    state["features.3.conv.9.weight"] = state.pop("features.3.conv.2.weight")
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError, match=r"missing keys features\.3\.conv\.2\.weight; "
                                           r"unexpected keys features\.3\.conv\.9\.weight"):
        load_weights(stsm_mobilenet_v2(num_classes=10, width_mult=0.35), path)


def test_not_a_checkpoint_is_one_line(tmp_path):
    path = tmp_path / "junk.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="not a PyTorch checkpoint") as info:
        load_weights(stsm_mobilenet_v2(width_mult=0.35), path)
    assert "\n" not in str(info.value)


def test_own_checkpoint_round_trip(tmp_path):
    model = stsm_mobilenet_v2(num_classes=3, n_segments=4, causal=True, width_mult=0.35).eval()
    path = tmp_path / "own.pt"
    save_checkpoint(model, path, labels=["a", "b", "c"])
    bundle = load_model(path)
    loaded = bundle.model
    assert loaded.config == model.config and bundle.labels == ["a", "b", "c"]
    clip = torch.randn(1, 4, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(clip), model(clip))


def test_own_checkpoint_reports_its_own_preprocessing(tmp_path):
    model = stsm_mobilenet_v2(num_classes=3, n_segments=4, width_mult=0.35)
    spec = PreprocessSpec.for_size(112, 112)
    save_checkpoint(model, tmp_path / "own.pt", preprocess=spec)
    report = load_weights(stsm_mobilenet_v2(num_classes=3, n_segments=4, width_mult=0.35), tmp_path / "own.pt")
    assert report.layout == "torchvision" and report.preprocess == spec
