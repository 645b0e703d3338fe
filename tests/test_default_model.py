"""The shipped default model: small, self-describing, and recognising motion on clips it was not trained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from stsm_edge.data.motion import MOTION_CLASSES, make_motion_data
from stsm_edge.defaults import DEFAULT_CHECKPOINT, default_model
from stsm_edge.evaluate import evaluate
from stsm_edge.runtimes.torch import TorchRuntime

MAX_SHIPPED_BYTES = 10 * 1024 * 1024


def test_default_model_ships_small_with_its_labels_and_recipe():
    assert DEFAULT_CHECKPOINT.stat().st_size <= MAX_SHIPPED_BYTES
    bundle = default_model()
    config = bundle.model.config
    assert (config.backbone, config.width_mult, config.dims, config.causal, config.n_segments) == \
        ("mobilenet_v2", 1.0, "THW", True, 8)
    assert bundle.labels == list(MOTION_CLASSES)
    from stsm_edge.weights import read_checkpoint

    recipe = read_checkpoint(DEFAULT_CHECKPOINT)
    assert recipe["train_config"]["pretrained"] == "imagenet" and "stsm-edge train" in recipe["command"]


@pytest.fixture(scope="module")
def held_out_clips(tmp_path_factory) -> Path:
    # Seed 0's test clips are the default model's own test split (clip i depends only on seed, split and i).
    return make_motion_data(tmp_path_factory.mktemp("motion") / "m", seed=0, clips_per_class=12)


def test_default_model_recognises_held_out_motion_clips(held_out_clips):
    """27 test clips (3 per class) no training step saw; the full 675-clip figure is in README."""
    bundle = default_model()
    result = evaluate(TorchRuntime(Path("default"), bundle=bundle), held_out_clips / "test.txt")
    assert result.count == 3 * len(MOTION_CLASSES)
    assert result.top1 >= 0.8, result.per_class()


MAX_INT8_BYTES = 4_000_000


@pytest.fixture(scope="module")
def int8_streams(held_out_clips, tmp_path_factory):
    """The default model's int8 streaming .pte and .tflite, calibrated on train clips and verified (states
    carried) on all 27 val clips, which show every class, unlike a real video's mostly still frames. Every
    second frame: the rate the model was trained at (T = 8 segments of 16-frame clips)."""
    from stsm_edge.converters.base import export_artifact

    from stsm_edge.preprocess import preprocess
    from stsm_edge.video import iter_frames

    bundle = default_model()
    frames = {split: [preprocess(f, bundle.preprocess) for f in iter_frames(held_out_clips / f"{split}.txt", 216, stride=2)]
              for split in ("train", "val")}
    out = tmp_path_factory.mktemp("int8")
    return {target: export_artifact(bundle.model, target, "stream", "int8", out, frames["train"], frames["val"],
                                    bundle.labels, bundle.preprocess)
            for target in ("executorch", "tflite")}


@pytest.mark.parametrize("target", ["executorch", "tflite"])
def test_default_model_int8_is_small_and_agrees_with_fp32(int8_streams, target):
    result = int8_streams[target]
    assert result.size_bytes <= MAX_INT8_BYTES
    assert result.parity["vs_fp32"]["samples"] >= 100
    assert result.parity["passed"], result.parity  # the int8 bar of stsm_edge.converters.base
    if target == "executorch":
        delegation = result.sidecar["delegation"]
        assert delegation["subgraphs"] == 1 and delegation["non_delegated_compute_nodes"] == 0, delegation
