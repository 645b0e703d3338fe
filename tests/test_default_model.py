"""The shipped default model: small, self-describing, and recognising motion on clips it was not trained on."""

from __future__ import annotations

from pathlib import Path

import pytest

from stsm_edge.data.motion import MOTION_CLASSES
from stsm_edge.defaults import DEFAULT_CHECKPOINT, default_model
from stsm_edge.fit.evaluate import evaluate
from stsm_edge.runtimes.torch import TorchRuntime

MAX_SHIPPED_BYTES = 10 * 1024 * 1024


def test_default_model_ships_small_with_its_labels_and_recipe():
    assert DEFAULT_CHECKPOINT.stat().st_size <= MAX_SHIPPED_BYTES
    bundle = default_model()
    config = bundle.model.config
    assert (config.backbone, config.width_mult, config.dims, config.causal, config.n_segments) == \
        ("mobilenet_v2", 1.0, "THW", True, 8)
    assert bundle.labels == list(MOTION_CLASSES)
    from stsm_edge.checkpoints import read_checkpoint

    recipe = read_checkpoint(DEFAULT_CHECKPOINT)
    assert recipe["train_config"]["pretrained"] == "imagenet" and "stsm-edge train" in recipe["command"]


def test_default_model_recognises_held_out_motion_clips(default_motion):
    """27 test clips (3 per class) no training step saw; the full 675-clip figure is in README."""
    bundle, clips, _ = default_motion
    result = evaluate(TorchRuntime(Path("default"), bundle=bundle), clips / "test.txt")
    assert result.count == 3 * len(MOTION_CLASSES)
    assert result.top1 >= 0.8, result.per_class()


MAX_INT8_BYTES = 4_000_000


@pytest.mark.parametrize("target", ["executorch", "tflite"])
def test_default_model_int8_is_small_and_agrees_with_fp32(default_int8, target):
    """Calibrated on train clips and verified, paced and states carried within each clip, on all 27 val clips: one
    independent window each; neither control (no temporal state) clears the bar on them."""
    result = default_int8(target)
    assert result.size_bytes <= MAX_INT8_BYTES
    assert result.parity["vs_fp32"]["samples"] == result.parity["verified_on"]["independent_windows"] == 27
    assert result.parity["verdict"] == "pass" and result.parity["passed"], result.parity  # stsm_edge.converters.base
    assert not any(control["clears_bar"] for control in result.parity["controls"].values()), result.parity
    if target == "executorch":
        delegation = result.sidecar["delegation"]
        assert delegation["subgraphs"] == 1 and delegation["non_delegated_compute_nodes"] == 0, delegation
