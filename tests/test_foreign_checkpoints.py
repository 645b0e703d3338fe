"""Foreign checkpoints load as what they are and say so: TSM's online-demo model (their code, seeded weights) as
`tsm_online`, MMAction2's TSN as `tsn`, DataParallel files, architectures stsm-edge does not build named in one
line, and the inferred-model line on the terminal without -v."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from fixtures.tsm_online_mobilenet_v2 import InvertedResidualWithShift
from fixtures.tsm_online_mobilenet_v2 import MobileNetV2 as TsmOnlineMobileNetV2
from stsm_edge.converters.base import compare_logits, meets_bar
from test_weights_mmaction2 import mmaction2_resnet_name, save_mmaction2_checkpoint

from stsm_edge.checkpoints import LoadOptions, ModelBundle, WeightsError, load_model, load_weights, save_checkpoint
from stsm_edge.errors import ArtifactError
from stsm_edge.models import ModelConfig, build_model, shift_sites, stsm_mobilenet_v2, stsm_resnet50
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.runtimes.torch import TorchRuntime
from stsm_edge.shift import PRESETS, ShiftConfig, SpatioTemporalShift
from stsm_edge.streaming import to_streaming

JESTER_CLASSES = 27  # the online demo's gesture model


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "stsm_edge", *args], capture_output=True, text=True, timeout=timeout)


def tsm_online_model() -> TsmOnlineMobileNetV2:
    """Their model with seeded weights of real variance: BatchNorm statistics and scales away from 0/1 (so a BN
    mapped to the wrong place shows) and a head whose logits reach several units (random init gives ~0.4)."""
    torch.manual_seed(0)
    net = TsmOnlineMobileNetV2(n_class=JESTER_CLASSES)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
            elif isinstance(m, torch.nn.Linear):
                m.weight.normal_(0, 1.0, generator=g)
                m.bias.normal_(0, 0.1, generator=g)
    return net.eval()


@pytest.fixture(scope="module")
def tsm_online(tmp_path_factory):
    """Their model and its file, saved as the online demo loads it (`torch.save(net.state_dict(), ...)`)."""
    net = tsm_online_model()
    path = tmp_path_factory.mktemp("tsm") / "mobilenetv2_jester_online.pth.tar"
    torch.save(net.state_dict(), path)
    return net, path


def their_buffers(net: TsmOnlineMobileNetV2, size: int) -> list[torch.Tensor]:
    """Zero shift buffers of the shapes their blocks take, found by running one frame."""
    shapes, x = [], torch.zeros(1, 3, size, size)
    with torch.no_grad():
        for f in net.features:
            if isinstance(f, InvertedResidualWithShift):
                shapes.append((1, x.shape[1] // 8, *x.shape[2:]))
                x = f(x, torch.zeros(shapes[-1]))[0]
            else:
                x = f(x)
    return [torch.zeros(shape) for shape in shapes]


def test_tsm_online_demo_loads_as_tsm_online_and_matches_their_model_frame_by_frame(tsm_online, capfd):
    net, path = tsm_online
    bundle = load_model(path)
    config = bundle.model.config
    assert (config.backbone, config.num_classes) == ("mobilenet_v2", JESTER_CLASSES)
    assert ShiftConfig(config.dims, config.fold_div, config.causal) == PRESETS["tsm_online"]
    assert bundle.source["layout"] == "tsm-online"
    line = capfd.readouterr().err
    assert "layout tsm-online [file]" in line and "fold_div 8, causal) [file]" in line
    assert "T 8 [fallback; --segments to change]" in line
    streaming, size = to_streaming(bundle.model), 160
    theirs, ours = their_buffers(net, size), None
    frames = torch.randn(12, 1, 3, size, size, generator=torch.Generator().manual_seed(2))
    largest = 0.0
    with torch.no_grad():
        for frame in frames:
            expected, *theirs = net(frame, *theirs)
            got, *ours = streaming(frame, *(ours if ours is not None else [torch.zeros_like(b) for b in theirs]))
            largest = max(largest, expected.abs().max().item())
            assert (got - expected).abs().max().item() <= 1e-4 * max(1.0, expected.abs().max().item())
    assert largest > 2.0, "logits too small for a parity check to see anything"


def test_tsm_online_demo_exports_a_stream_that_passes_verification_without_method(tsm_online, tmp_path):
    _, path = tsm_online
    out = tmp_path / "out"
    result = run_cli("export", "--checkpoint", str(path), "--target", "onnx", "--form", "stream", "--precision",
                     "fp32", "--out", str(out), "--verify-frames", "24", "--size", "128")
    assert result.returncode == 0, result.stdout + result.stderr
    # The inferred-model line is on the terminal without -v, before anything else is said.
    assert "mobilenetv2_jester_online.pth.tar: layout tsm-online [file], backbone mobilenet_v2 [file]" in result.stderr
    sidecar = json.loads(next(out.glob("*.json")).read_text())
    assert sidecar["form"] == "stream" and sidecar["model"]["causal"] and sidecar["model"]["fold_div"] == 8
    assert "pass" in result.stdout and "FAIL" not in result.stdout


def test_mmaction2_tsn_config_gives_tsn_with_its_num_clips(tmp_path):
    source = stsm_resnet50(num_classes=7, n_segments=3, dims="").eval()
    state = {mmaction2_resnet_name(k): v for k, v in source.backbone.state_dict().items()}
    cfg = ("model = dict(type='Recognizer2D', backbone=dict(type='ResNet', pretrained='torchvision://resnet50', "
           "depth=50, norm_eval=False), cls_head=dict(type='TSNHead', num_classes=7, in_channels=2048))\n"
           "train_pipeline = [dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=3)]\n"
           "test_pipeline = [dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=25, test_mode=True)]")
    bundle = load_model(save_mmaction2_checkpoint(tmp_path / "tsn_r50.pth", state, cfg=cfg))
    config = bundle.model.config
    assert (config.backbone, config.dims, config.n_segments) == ("resnet50", "", 3)
    assert bundle.inferred.shift.source == "config" and bundle.inferred.n_segments.source == "config"
    clip = torch.randn(1, 3, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(bundle.model(clip), source(clip))


def test_data_parallel_mmaction2_checkpoint_loads(tmp_path):
    source = stsm_resnet50(num_classes=5, n_segments=2, dims="T", fold_div=4).eval()
    state = {"module." + mmaction2_resnet_name(k): v for k, v in source.backbone.state_dict().items()}
    path = save_mmaction2_checkpoint(tmp_path / "dp.pth", state)
    for options in (LoadOptions(n_segments=2), LoadOptions(n_segments=2, layout="mmaction2")):
        bundle = load_model(path, options)
        assert bundle.source["layout"] == "mmaction2"
        assert torch.equal(bundle.model.backbone.layer4[2].conv3.weight, source.backbone.layer4[2].conv3.weight)


def tsm_resnet_checkpoint(model, path, arch: str):
    """A TSM offline checkpoint of `model` as TSM saves it: DataParallel, TSN-wrapped, the shift wrapping each
    shifted block's conv1 as `conv1.net`, the head as `new_fc`."""
    shifted = {name for name, block in model.backbone.named_modules()
               if isinstance(getattr(block, "shift", None), SpatioTemporalShift)}
    state = {}
    for key, value in model.backbone.state_dict().items():
        block = key.rsplit(".", 2)[0]
        if key.startswith("fc."):
            state["module.new_fc." + key[3:]] = value
            continue
        if block in shifted and key.startswith(block + ".conv1."):
            key = key.replace(".conv1.", ".conv1.net.")
        state["module.base_model." + key] = value
    torch.save({"epoch": 50, "arch": arch, "state_dict": state, "best_prec1": 0.0}, path)
    return path


def randomised_bn(model):
    """BatchNorm statistics away from 0/1, so a BN mapped to the wrong place shows."""
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return model.eval()


def test_tsm_resnet101_loads_with_tsms_every_other_block_shift(tmp_path):
    """TSM shifts ResNet-101's blocks 0, 2, 4 ... of each stage (n_round 2); the keys say which."""
    source = randomised_bn(build_model("stsm_resnet101", num_classes=5, n_segments=2, dims="T", fold_div=4,
                                       shift_every=2))
    assert len(shift_sites(source)) == 2 + 2 + 12 + 2
    path = tsm_resnet_checkpoint(source, tmp_path / "TSM_kinetics_RGB_resnet101_shift8_blockres_avg_segment8.pth",
                                 "resnet101")
    bundle = load_model(path, LoadOptions(n_segments=2))
    assert (bundle.model.config.backbone, bundle.model.config.shift_every) == ("resnet101", 2)
    clip = torch.randn(1, 2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(bundle.model(clip), source(clip))


def test_tsm_resnet18_loads_and_a_tsn_without_wrappers_is_tsn(tmp_path):
    source = randomised_bn(build_model("stsm_resnet18", num_classes=5, n_segments=2, dims="T", fold_div=4))
    bundle = load_model(tsm_resnet_checkpoint(source, tmp_path / "r18.pth", "resnet18"), LoadOptions(n_segments=2))
    assert bundle.model.config.backbone == "resnet18" and bundle.model.config.dims == "T"
    assert bundle.inferred.shift.source == "fallback"  # the keys show a shift, not its fold_div or direction
    clip = torch.randn(1, 2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(bundle.model(clip), source(clip))
    plain = randomised_bn(build_model("stsm_resnet34", num_classes=5, n_segments=2, dims=""))
    tsn = load_model(tsm_resnet_checkpoint(plain, tmp_path / "tsn_r34.pth", "resnet34"))
    assert (tsn.model.config.backbone, tsn.model.config.dims, tsn.inferred.shift.source) == ("resnet34", "", "file")


def test_resnet152_is_named_in_one_line(tmp_path):
    state = {f"module.base_model.layer{stage}.{block}.conv3.weight": torch.zeros(1)
             for stage, blocks in zip((1, 2, 3, 4), (3, 8, 36, 3)) for block in range(blocks)}
    path = tmp_path / "resnet152.pth"
    torch.save(state | {"module.new_fc.weight": torch.zeros(3, 2048)}, path)
    for load in (lambda: load_model(path), lambda: load_weights(stsm_resnet50(num_classes=3), path)):
        with pytest.raises(WeightsError, match=r"tsm ResNet-152 weights; stsm-edge builds MobileNetV2 and "
                                               r"ResNet-18/34/50/101") as info:
            load()
        assert "\n" not in str(info.value) and "unexpected keys" not in str(info.value)
    r101 = tsm_resnet_checkpoint(build_model("stsm_resnet101", num_classes=3, shift_every=2), tmp_path / "r101.pth",
                                 "resnet101")
    with pytest.raises(WeightsError, match="tsm resnet101 weights, and the model is resnet50"):
        load_weights(stsm_resnet50(num_classes=3), r101)


def test_distill_segments_zero_is_refused(tmp_path):
    result = run_cli("distill", "--teacher", str(tmp_path / "t.pth"), "--videos", str(tmp_path),
                     "--out", str(tmp_path / "run"), "--segments", "0")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "--segments must be >= 1, got 0" in result.stderr
    assert not (tmp_path / "run").exists()


def test_no_label_warning_when_labels_are_given(tsm_online, tmp_path, caplog, capfd):
    _, path = tsm_online
    labels = tmp_path / "jester.txt"
    labels.write_text("\n".join(f"gesture {i}" for i in range(JESTER_CLASSES)))
    with caplog.at_level("WARNING"):
        given = load_model(path, LoadOptions(labels=labels))
    assert given.labels[3] == "gesture 3" and "no label list" not in caplog.text
    assert f"labels {labels} [flag]" in capfd.readouterr().err
    with caplog.at_level("WARNING"):
        load_model(path)
    assert "27 classes and no label list" in caplog.text


def test_bidirectional_stream_export_is_one_line(tsm_online, tmp_path):
    _, path = tsm_online
    result = run_cli("export", "--checkpoint", str(path), "--method", "tsm", "--target", "onnx", "--form", "stream",
                     "--precision", "fp32", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert "needs a causal model" in error and "stsm-edge distill" in error and "--method tsm_online" in error
    assert "Traceback" not in result.stderr


def fp32_parity(reference, candidate) -> bool:
    return meets_bar("fp32", {"vs_fp32": compare_logits(reference, candidate)})


def test_fp32_bar_scales_with_the_logits():
    rng = np.random.default_rng(0)
    reference = [20 * rng.standard_normal(27).astype(np.float32) for _ in range(50)]
    reference[0][0] = 19.8
    noise = [1.1e-3 * np.sign(rng.standard_normal(27)).astype(np.float32) for _ in range(50)]
    assert fp32_parity(reference, [r + n for r, n in zip(reference, noise)])  # TSM online's correct ONNX stream
    wrong = [r.copy() for r in reference]
    wrong[7] = wrong[7] * 1.01  # one frame's logits off by 1%, top-1 unchanged
    assert not fp32_parity(reference, wrong)
    small = [r / 100 for r in reference]  # logits below 1: the bar stays 1e-4 absolute
    assert not fp32_parity(small, [s + 2e-4 for s in small])


def test_own_checkpoint_label_count_is_checked_against_its_head(tmp_path):
    model = stsm_mobilenet_v2(num_classes=3, n_segments=4, width_mult=0.35)
    path = tmp_path / "own.pt"
    save_checkpoint(model, path, labels=["a", "b", "c"])
    data = torch.load(path, weights_only=True)
    data["labels"] = ["a", "b"]
    torch.save(data, path)
    with pytest.raises(WeightsError, match="lists 2 labels for a head of 3 classes"):
        load_model(path)


def test_weights_take_a_registry_name_and_refuse_a_path(tmp_path):
    with pytest.raises(WeightsError, match=r"is a file: load files with stsm_edge\.checkpoints\.load_weights"):
        build_model("stsm_mobilenet_v2", weights=str(tmp_path / "some.pth"))
    model = build_model(ModelConfig(num_classes=1000, dims=""), weights="imagenet")
    assert model.config.num_classes == 1000


def test_torch_runtime_validates_its_sidecar_like_the_other_runtimes(tmp_path):
    model = stsm_mobilenet_v2(num_classes=3, n_segments=4, causal=True, width_mult=0.35).eval()
    bundle = ModelBundle(model, ["a", "b"], PreprocessSpec.for_size(64, 64), {})
    with pytest.raises(ArtifactError, match="2 labels for 3 classes"):
        TorchRuntime(tmp_path / "in_memory.pt", bundle=bundle)
    assert TorchRuntime(tmp_path / "in_memory.pt", bundle=ModelBundle(model, ["a", "b", "c"], bundle.preprocess,
                                                                       {})).labels == ["a", "b", "c"]
