"""MMAction2 checkpoints: detected from their keys, mapped exactly, and their preprocessing carried along.

The MobileNetV2 check runs against numbers MMAction2 1.2.0 itself computed (fixtures/mmaction2_tsm_mobilenet_v2.json):
seeded weights in MMAction2's layout, a seeded clip, and MMAction2's logits for it; the functions below rebuild the
weights and the clip by the fixture's recipe.
"""

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from stsm_edge.architectures import PRESETS, ShiftConfig
from stsm_edge.assets import coffee_image_path, kinetics_labels
from stsm_edge.checkpoints import (
    LAYOUTS,
    MMACTION2_MEAN_0_255,
    MMACTION2_PREPROCESS,
    MMACTION2_STD_0_255,
    LoadOptions,
    WeightsError,
    load_model,
    load_weights,
    save_checkpoint,
)
from stsm_edge.models import ModelConfig, build_model, stsm_mobilenet_v2
from stsm_edge.preprocess import PreprocessSpec, normalize, resize_and_crop

FIXTURE = Path(__file__).parent / "fixtures" / "mmaction2_tsm_mobilenet_v2.json"
TSM = PRESETS["tsm"]  # MMAction2's shift_div=8: C/8 channels from t+1, the next C/8 from t-1


@pytest.fixture(scope="module")
def reference() -> dict:
    return json.loads(FIXTURE.read_text())


def seeded_state(spec: list, seed: int) -> dict[str, torch.Tensor]:
    """The fixture's weights: one generator walked over the keys in MMAction2's order."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in spec:
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(0)
            continue
        x = torch.randn(shape, generator=g)
        if key.endswith("running_var"):
            value = 0.5 + x.abs()
        elif key.endswith("running_mean"):
            value = 0.1 * x
        elif key.endswith("weight") and len(shape) == 1:  # a BatchNorm scale
            value = 1.0 + 0.2 * x
        elif key.endswith("bias"):
            value = 0.1 * x
        else:
            value = x * (2 / np.prod(shape[1:])) ** 0.5
        state[key] = value.float()
    return state


def state_digest(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode("utf-8"))
        digest.update(state[key].contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def reference_clip(seed: int, size: int) -> torch.Tensor:
    """(8, 3, S, S), already normalised: noise with a bright square moving right by 6 pixels a frame."""
    g = torch.Generator().manual_seed(seed)
    x = 0.3 * torch.randn(8, 3, size, size, generator=g)
    for t in range(8):
        x[t, :, size // 4 : size // 2, 4 + 6 * t : 4 + 6 * t + size // 4] += 1.5
    return x


def save_mmaction2_checkpoint(path: Path, state: dict[str, torch.Tensor], **meta) -> Path:
    torch.save({"meta": {"mmaction2_version": "1.2.0", "epoch": 1, **meta}, "state_dict": state}, path)
    return path


def tsm_mobilenet_v2() -> torch.nn.Module:
    return stsm_mobilenet_v2(num_classes=400, n_segments=8, dims=TSM.dims, fold_div=TSM.fold_div,
                             causal=TSM.causal).eval()


@pytest.fixture(scope="module")
def mobilenet_state(reference) -> dict[str, torch.Tensor]:
    state = seeded_state(reference["spec"], reference["seed"])
    assert state_digest(state) == reference["digest"], "rebuilt weights differ from the ones MMAction2 ran"
    return state


def max_logit_error(model, reference) -> tuple[float, float]:
    clip = reference_clip(reference["clip_seed"], reference["clip_size"])
    with torch.no_grad():
        logits = model(clip.unsqueeze(0))[0]
    expected = torch.tensor(reference["logits"], dtype=torch.float32)
    return (logits - expected).abs().max().item(), expected.abs().max().item()


def test_mmaction2_tsm_mobilenet_v2_gives_mmaction2s_logits(tmp_path, reference, mobilenet_state):
    path = save_mmaction2_checkpoint(tmp_path / "tsm_mobilenetv2_k400.pth", mobilenet_state)
    model = tsm_mobilenet_v2()
    report = load_weights(model, path)
    assert report.layout == "mmaction2" and not report.replaced_head
    assert report.preprocess == MMACTION2_PREPROCESS
    error, scale = max_logit_error(model, reference)
    assert error <= 1e-4 * scale, f"max |logit difference| {error:.3g} against max |logit| {scale:.3g}"


def test_mmaction2_normalisation_is_imagenets_on_a_real_frame():
    crop = resize_and_crop(cv2.imread(str(coffee_image_path())), PreprocessSpec())  # float32 BGR, 0..255
    rgb = torch.from_numpy(crop[:, :, ::-1].copy())
    mean, std = torch.tensor(MMACTION2_MEAN_0_255), torch.tensor(MMACTION2_STD_0_255)
    mmaction2 = ((rgb - mean) / std).permute(2, 0, 1).numpy()  # ActionDataPreprocessor, float32 on 0..255
    imagenet = normalize(crop, PreprocessSpec())
    np.testing.assert_allclose(normalize(crop, MMACTION2_PREPROCESS), imagenet, rtol=0, atol=1e-6)
    np.testing.assert_allclose(mmaction2, imagenet, rtol=0, atol=1e-6)


def mmaction2_resnet_name(key: str) -> str:
    """A torchvision ResNet-50 key in MMAction2's ResNetTSM layout (ConvModules, shift wrapping conv1 as `.net`)."""
    *module, param = key.split(".")
    if module == ["fc"]:
        return f"cls_head.fc_cls.{param}"
    if module in (["conv1"], ["bn1"]):
        return f"backbone.conv1.{module[0][:-1]}.{param}"
    layer, block, name, *index = module
    if name == "downsample":
        inner = "downsample." + ("conv" if index == ["0"] else "bn")
    else:
        kind, number = name[:-1], name[-1]  # conv2 -> conv, 2; bn2 -> bn, 2
        inner = f"conv{number}." + ("net." if number == "1" else "") + kind
    return f"backbone.{layer}.{block}.{inner}.{param}"


def test_mmaction2_resnet50_round_trips(tmp_path):
    source = build_model(ModelConfig(backbone="resnet50", num_classes=7, n_segments=2, dims=TSM.dims,
                                     fold_div=TSM.fold_div, causal=TSM.causal)).eval()
    for module in source.modules():  # BN statistics away from 0/1, so a BN mapped to the wrong place shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    state = {mmaction2_resnet_name(k): v for k, v in source.backbone.state_dict().items()}
    assert "backbone.layer3.2.conv1.net.conv.weight" in state and "backbone.layer2.0.downsample.bn.bias" in state
    target = build_model(source.config).eval()
    report = load_weights(target, save_mmaction2_checkpoint(tmp_path / "tsm_r50.pth", state))
    assert report.layout == "mmaction2" and not report.replaced_head
    loaded = target.backbone.state_dict()
    for key, value in source.backbone.state_dict().items():
        assert torch.equal(loaded[key], value), key
    clip = torch.randn(1, 2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(target(clip), source(clip))


def test_renamed_mmaction2_key_is_named_on_both_sides(tmp_path, mobilenet_state):
    state = dict(mobilenet_state)
    state["backbone.layer3.1.conv.1.bn.running_varx"] = state.pop("backbone.layer3.1.conv.1.bn.running_var")
    with pytest.raises(WeightsError, match=r"mmaction2 layout.*missing keys features\.5\.conv\.1\.1\.running_var; "
                                           r"unexpected keys features\.5\.conv\.1\.1\.running_varx") as info:
        load_weights(tsm_mobilenet_v2(), save_mmaction2_checkpoint(tmp_path / "renamed.pth", state))
    assert "\n" not in str(info.value)


def test_missing_mmaction2_key_is_named(tmp_path, mobilenet_state):
    state = dict(mobilenet_state)
    del state["backbone.conv2.conv.weight"]
    with pytest.raises(WeightsError, match=r"missing keys features\.18\.0\.weight; unexpected keys none"):
        load_weights(tsm_mobilenet_v2(), save_mmaction2_checkpoint(tmp_path / "missing.pth", state))


def test_explicit_layout_overrides_detection(tmp_path, mobilenet_state):
    path = save_mmaction2_checkpoint(tmp_path / "tsm.pth", mobilenet_state)
    assert load_weights(tsm_mobilenet_v2(), path, layout="mmaction2").layout == "mmaction2"
    with pytest.raises(WeightsError, match=r"\(torchvision layout\) do not fit mobilenet_v2: "
                                           r"missing keys classifier\.1\..*; unexpected keys cls_head\.fc_cls\."):
        load_weights(tsm_mobilenet_v2(), path, layout="torchvision")


def test_unknown_layout_lists_the_valid_ones(tmp_path, mobilenet_state):
    path = save_mmaction2_checkpoint(tmp_path / "tsm.pth", mobilenet_state)
    with pytest.raises(WeightsError, match="unknown checkpoint layout 'mmaction'; choose one of "
                                           + ", ".join(LAYOUTS)) as info:
        load_weights(tsm_mobilenet_v2(), path, layout="mmaction")
    assert "\n" not in str(info.value) and {"torchvision", "tsm", "tsm-mobilenet_v2", "mmaction2"} <= set(LAYOUTS)


# MMAction2's tools/data/kinetics/label_map_k400.txt: sha256 of its 400 names joined by newlines, and some lines.
MMACTION2_K400_SHA256 = "a8dafb93a1204d4ecfa904f943ce5ee0c62ddeeb1df71aa1f96983fca17d777e"
MMACTION2_K400_LINES = {0: "abseiling", 57: "clapping", 100: "drinking", 200: "moving furniture", 298: "shot put",
                        399: "zumba"}


def test_kinetics_labels_are_in_mmaction2s_order():
    labels = kinetics_labels()
    assert {i: labels[i] for i in MMACTION2_K400_LINES} == MMACTION2_K400_LINES
    assert hashlib.sha256("\n".join(labels).encode()).hexdigest() == MMACTION2_K400_SHA256


def shift_of(model) -> ShiftConfig:
    return ShiftConfig(model.config.dims, model.config.fold_div, model.config.causal)


def test_mmaction2_checkpoint_loads_as_a_whole_model(tmp_path, reference, mobilenet_state):
    """No model to build by hand: backbone, classes, shift, labels and preprocessing come from the file."""
    bundle = load_model(save_mmaction2_checkpoint(tmp_path / "tsm_mobilenetv2_k400.pth", mobilenet_state))
    config = bundle.model.config
    assert (config.backbone, config.num_classes, config.n_segments, shift_of(bundle.model)) == \
        ("mobilenet_v2", 400, 8, TSM)
    assert bundle.labels == kinetics_labels() and bundle.preprocess == MMACTION2_PREPROCESS
    assert bundle.source["layout"] == "mmaction2"
    error, scale = max_logit_error(bundle.model, reference)
    assert error <= 1e-4 * scale


def test_mmaction2_config_and_classes_in_meta_are_read(tmp_path, mobilenet_state):
    cfg = ("model = dict(type='Recognizer2D', backbone=dict(type='MobileNetV2TSM', num_segments=16, "
           "shift_div=16, is_shift=True, pretrained2d=False), cls_head=dict(num_segments=16))")
    names = [f"gesture {i}" for i in range(400)]
    path = save_mmaction2_checkpoint(tmp_path / "meta.pth", mobilenet_state, cfg=cfg,
                                     dataset_meta={"classes": names})
    bundle = load_model(path)
    assert bundle.model.config.n_segments == 16 and shift_of(bundle.model) == ShiftConfig("T", 8)
    assert bundle.labels == names
    unshifted = save_mmaction2_checkpoint(tmp_path / "tsn.pth", mobilenet_state, cfg=cfg.replace("is_shift=True",
                                                                                               "is_shift=False"))
    assert shift_of(load_model(unshifted).model) == PRESETS["tsn"]
    given = load_model(path, LoadOptions(shift=PRESETS["tsm_online"], n_segments=4))
    assert given.model.config.n_segments == 4 and shift_of(given.model) == PRESETS["tsm_online"]


def test_a_label_file_must_match_the_head(tmp_path, mobilenet_state):
    path = save_mmaction2_checkpoint(tmp_path / "tsm.pth", mobilenet_state)
    short = tmp_path / "short.txt"
    short.write_text("\n".join(f"c{i}" for i in range(399)) + "\n")
    with pytest.raises(WeightsError, match=r"short\.txt: 399 labels for a head of 400 classes$"):
        load_model(path, LoadOptions(labels=short))
    full = tmp_path / "full.txt"
    full.write_text("\n".join(f"c{i}" for i in range(400)) + "\n\n")
    assert load_model(path, LoadOptions(labels=full)).labels == [f"c{i}" for i in range(400)]


def test_foreign_settings_are_refused_for_our_own_checkpoints(tmp_path):
    path = tmp_path / "own.pt"
    save_checkpoint(build_model(ModelConfig(num_classes=3, n_segments=2)), path, ["a", "b", "c"])
    with pytest.raises(WeightsError, match="records its own model; --method, --segments apply to checkpoints"):
        load_model(path, LoadOptions(shift=TSM, n_segments=4))
    assert load_model(path).labels == ["a", "b", "c"]
