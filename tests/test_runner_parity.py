"""The runner on a real video gives the same per-frame top-1 on every fp32 streaming artifact as eagerly."""

import pytest
from small_models import LABELS, SPEC

from stsm_edge.assets import video_path
from stsm_edge.checkpoints import ModelBundle
from stsm_edge.runner import FrameBufferRunner
from stsm_edge.runtimes.torch import TorchRuntime
from stsm_edge.smoothing import SmoothingConfig
from stsm_edge.video import iter_video

TARGETS = ("executorch", "tflite", "onnx")
FRAMES = 80


@pytest.fixture(scope="module")
def model(small_model):
    return small_model


@pytest.fixture(scope="module")
def artifacts(small_artifact):
    return {target: small_artifact(target, "stream", "fp32").path for target in TARGETS}


def raw_top1(runner, frames):
    return [runner.step(frame).raw_top[0][0] for frame in frames]


def test_every_fp32_streaming_artifact_agrees_with_eager(model, artifacts):
    frames = list(iter_video(video_path("vtest.avi"), max_frames=FRAMES))
    raw = SmoothingConfig(window=1, min_hold=1)
    eager = raw_top1(FrameBufferRunner(TorchRuntime("eager.pt", bundle=ModelBundle(model, LABELS, SPEC, {})), raw,
                                       pacing=False), frames)
    assert len(set(eager)) > 1, "the test model must not predict one class for every frame"
    for target, path in artifacts.items():
        got = raw_top1(FrameBufferRunner.open(path, smoothing=raw, pacing=False), frames)
        agreement = sum(a == b for a, b in zip(eager, got)) / len(frames)
        assert agreement >= 0.99, f"{target}: {agreement:.1%} of frames agree with eager"
