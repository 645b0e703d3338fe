"""ONNX target end to end: export through the pipeline, run in the real ONNX Runtime."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
import torch
from small_models import (
    FP32_TOLERANCE,
    MIN_INT8_CORRELATION,
    centred_correlation,
    clips_of,
    eager_clip_logits,
    export_grid,
    small_causal_model,
    split_frames,
    stream_logits,
)
from stsm_edge.converters import ExportJob, get_converter

from stsm_edge.errors import ExportError
from stsm_edge.runtimes.base import open_runtime


@pytest.fixture(scope="module")
def frames():
    return split_frames(16)


@pytest.fixture(scope="module")
def model(frames):
    return small_causal_model(frames["calibration"])


@pytest.fixture(scope="module")
def artifacts(model, frames, tmp_path_factory):
    return export_grid(model, "onnx", ("clip", "stream"), ("fp32", "int8"), frames, tmp_path_factory.mktemp("onnx"))


def op_counts(result) -> Counter:
    return Counter(node.op_type for node in onnx.load(str(result.path)).graph.node)


def test_one_self_contained_file_with_the_job_names(artifacts):
    for result in artifacts.values():
        assert sorted(p.name for p in result.path.parent.glob(result.path.stem + "*")) == sorted(
            [result.path.name, result.path.name + ".json"])
        graph = onnx.load(str(result.path)).graph
        assert [i.name for i in graph.input] == [s["name"] for s in result.sidecar["inputs"]]
        assert [o.name for o in graph.output] == [s["name"] for s in result.sidecar["outputs"]]


def test_fp32_clip_matches_eager(artifacts, model, frames):
    clips = clips_of(frames["held_out"])
    runtime = open_runtime(artifacts["clip", "fp32"].path, artifacts["clip", "fp32"].sidecar)
    got = [runtime.run([clip])[0][0] for clip in clips]
    expected = eager_clip_logits(model, clips)
    assert np.abs(np.stack(got) - np.stack(expected)).max() <= FP32_TOLERANCE
    assert np.abs(np.stack(expected)).max() > 0.5  # the comparison is not between two near-zero vectors


def test_fp32_stream_equals_causal_clip_per_frame(artifacts, model, frames):
    for clip in clips_of(frames["held_out"])[:3]:
        with torch.no_grad():
            expected = model(torch.from_numpy(clip), return_frame_logits=True)[0].numpy()
        got = np.stack(stream_logits(artifacts["stream", "fp32"], list(clip[0])))
        assert np.abs(got - expected).max() <= FP32_TOLERANCE


def test_int8_is_quantized_per_channel_qoperator(artifacts):
    from stsm_edge.converters.quantization import FLOAT_LEADING_CONVS

    for form in ("clip", "stream"):
        ops = op_counts(artifacts[form, "int8"])
        # The leading convs and the classifier stay float on purpose (see converters/onnx.py).
        assert ops["QLinearConv"] > 30 and ops["Conv"] == FLOAT_LEADING_CONVS and ops["Gemm"] == 1, ops
        graph = onnx.load(str(artifacts[form, "int8"].path)).graph
        weight_scales = [i for i in graph.initializer if i.name.endswith("_scale") and len(i.dims) == 1 and i.dims[0] > 1]
        assert weight_scales, "per-channel weights carry one scale per output channel"
        assert artifacts[form, "int8"].size_bytes < 0.5 * artifacts[form, "fp32"].size_bytes
        assert artifacts[form, "int8"].sidecar["quantization"]["format"] == "qoperator"


def test_int8_clip_close_to_eager(artifacts, model, frames):
    clips = clips_of(frames["held_out"])
    runtime = open_runtime(artifacts["clip", "int8"].path, artifacts["clip", "int8"].sidecar)
    got = [runtime.run([clip])[0][0] for clip in clips]
    assert np.isfinite(np.stack(got)).all()
    assert centred_correlation(got, eager_clip_logits(model, clips)) >= MIN_INT8_CORRELATION


def test_int8_stream_tracks_the_float_stream(artifacts, frames):
    held_out = frames["held_out"]
    float_logits = stream_logits(artifacts["stream", "fp32"], held_out)
    int8_logits = stream_logits(artifacts["stream", "int8"], held_out)
    assert np.isfinite(np.stack(int8_logits)).all()
    assert centred_correlation(int8_logits, float_logits) >= MIN_INT8_CORRELATION
    # ...and the int8 stream follows its own frames: pairing it with the next frame's fp32 logits scores lower.
    assert centred_correlation(int8_logits[1:], float_logits[:-1]) < centred_correlation(int8_logits, float_logits)


def test_unknown_quant_format_is_refused_before_export(tmp_path):
    # The module cannot export at all, so reaching the exporter would raise a different error.
    job = ExportJob("bad", "stream", "int8", torch.nn.Identity(), (), [], [], [()], {"quant_format": "qlinear"})
    with pytest.raises(ExportError, match="quant_format"):
        get_converter("onnx").convert(job, tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()
