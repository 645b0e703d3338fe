"""TFLite target end to end: export through the pipeline, run in the real LiteRT interpreter."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter
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

from stsm_edge.runtimes.base import open_runtime


@pytest.fixture(scope="module")
def frames():
    return split_frames(16)


@pytest.fixture(scope="module")
def model(frames):
    return small_causal_model(frames["calibration"])


@pytest.fixture(scope="module")
def artifacts(model, frames, tmp_path_factory):
    return export_grid(model, "tflite", ("clip", "stream"), ("fp32", "int8"), frames, tmp_path_factory.mktemp("tflite"))


def test_signature_uses_the_job_names(artifacts):
    for result in artifacts.values():
        signature = Interpreter(model_path=str(result.path)).get_signature_list()["serving_default"]
        assert sorted(signature["inputs"]) == sorted(s["name"] for s in result.sidecar["inputs"])
        assert sorted(signature["outputs"]) == sorted(s["name"] for s in result.sidecar["outputs"])
    stream = artifacts["stream", "fp32"].sidecar
    assert len(stream["inputs"]) > 1 and stream["inputs"][1]["name"].startswith("state_")


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


def test_int8_io_quantization_is_recorded_and_logits_stay_float(artifacts):
    for form in ("clip", "stream"):
        result = artifacts[form, "int8"]
        runner = Interpreter(model_path=str(result.path)).get_signature_runner("serving_default")
        details = {**runner.get_input_details(), **runner.get_output_details()}
        # Float logits: int8 logits clip at the calibration scenes' largest logit (see converters/tflite.py).
        assert details["logits"]["dtype"] == np.float32
        assert result.sidecar["outputs"][0]["quantization"] is None
        assert details["frame" if form == "stream" else "frames"]["dtype"] == np.int8
        for spec in result.sidecar["inputs"] + result.sidecar["outputs"][1:]:
            q, detail = spec["quantization"], details[spec["name"]]
            if detail["dtype"] == np.float32:  # a state the quantizer left float needs no scale
                assert q is None, spec
                continue
            assert detail["dtype"] == np.int8 and q is not None and q["dtype"] == "int8", spec
            assert (q["scale"], q["zero_point"]) == pytest.approx(detail["quantization"]), spec


def test_int8_keeps_only_the_leading_convs_and_the_classifier_float(artifacts):
    from stsm_edge.converters.quantization import FLOAT_LEADING_CONVS

    interpreter = Interpreter(model_path=str(artifacts["stream", "int8"].path))
    dtypes = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
    convs = [op for op in interpreter._get_ops_details() if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    float_convs = [op for op in convs if dtypes[op["outputs"][0]] == np.float32]
    assert len(convs) > 30 and float_convs == convs[:FLOAT_LEADING_CONVS]
    names = [t["name"] for t in interpreter.get_tensor_details()]
    assert not [n for n in names if "torch.nn" in n], "compact() drops litert-torch's module-path tensor names"


def test_int8_is_smaller_and_close_to_eager(artifacts, model, frames):
    for form in ("clip", "stream"):
        assert artifacts[form, "int8"].size_bytes < 0.6 * artifacts[form, "fp32"].size_bytes
    clips = clips_of(frames["held_out"])
    runtime = open_runtime(artifacts["clip", "int8"].path, artifacts["clip", "int8"].sidecar)
    got = [runtime.run([clip])[0][0] for clip in clips]
    assert np.isfinite(np.stack(got)).all()
    assert centred_correlation(got, eager_clip_logits(model, clips)) >= MIN_INT8_CORRELATION


def test_int8_stream_tracks_the_float_stream(artifacts, frames):
    """Per-frame int8 logits over a whole stream, states carried as a runner carries them."""
    held_out = frames["held_out"]
    float_logits = stream_logits(artifacts["stream", "fp32"], held_out)
    int8_logits = stream_logits(artifacts["stream", "int8"], held_out)
    assert np.isfinite(np.stack(int8_logits)).all()
    assert centred_correlation(int8_logits, float_logits) >= MIN_INT8_CORRELATION
    # ...and the int8 stream follows its own frames: pairing it with the next frame's fp32 logits scores lower.
    assert centred_correlation(int8_logits[1:], float_logits[:-1]) < centred_correlation(int8_logits, float_logits)
