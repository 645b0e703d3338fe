"""The TFLite int8 stream's state I/O: channels-last int8 states, each input quantized exactly like the output that
feeds it, carried by the runtime adapter untouched from the zero point; and the verification that catches an artifact
whose carried states lost that match or their memory (converters/tflite.py, runtimes/base.py)."""

import numpy as np
import pytest
from stsm_edge.converters.base import verify_artifact

from stsm_edge.errors import ArtifactError
from stsm_edge.forms import build_form, clip_feeds
from stsm_edge.runtimes.base import dequantize, open_runtime, quantize
from stsm_edge.sidecar import stamped, validate_sidecar


@pytest.fixture(scope="module")
def tflite_stream(default_motion, default_int8):
    """(the default model's int8 TFLite stream, its eager fp32 form, the verification feeds of the 27 val clips)."""
    bundle, _, frames = default_motion
    form = build_form(bundle.model, "stream", *bundle.preprocess.size)
    return default_int8("tflite"), form, clip_feeds(form, frames["val"], bundle.model.n_segments)


def test_states_cross_channels_last_as_int8_quantized_like_their_outputs(tflite_stream):
    result, form, _ = tflite_stream
    sidecar = result.sidecar
    nchw = {spec.name: spec.shape for spec in form.states}
    inputs = {t["name"]: t for t in sidecar["inputs"]}
    outputs = {t["name"]: t for t in sidecar["outputs"]}
    assert len(sidecar["states"]) == 10
    for state in sidecar["states"]:
        state_in, state_out = inputs[state["name"]], outputs["new_" + state["name"]]
        assert state["layout"] == state_in["layout"] == state_out["layout"] == "nhwc"
        assert state["dtype"] == state_in["dtype"] == state_out["dtype"] == "int8"
        assert state["quantization"] == state_in["quantization"] == state_out["quantization"] is not None
        n, g, h, w = nchw[state["name"]]
        assert state["shape"] == state_in["shape"] == state_out["shape"] == [n, h, w, g]
    # The artifact itself agrees: int8 on both sides, the same scale and zero point.
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(result.path)).get_signature_runner("serving_default")
    details = {**runner.get_input_details(), **runner.get_output_details()}
    for state in sidecar["states"]:
        q = state["quantization"]
        for name in (state["name"], "new_" + state["name"]):
            assert details[name]["dtype"] == np.int8 and list(details[name]["shape"]) == state["shape"]
            assert details[name]["quantization"] == pytest.approx((q["scale"], q["zero_point"]))


def test_the_adapter_carries_int8_states_from_the_zero_point(tflite_stream, default_motion):
    result, _, feeds = tflite_stream
    runtime = open_runtime(result.path)
    initial = runtime.initial_states()
    for state, array in zip(result.sidecar["states"], initial):
        assert array.dtype == np.int8 and array.shape == tuple(state["shape"])
        assert np.all(array == state["quantization"]["zero_point"])
        assert np.all(dequantize(array, state["quantization"]) == 0.0)
    frame = feeds[0][0][0].numpy()
    logits, *states = runtime.run([frame, *initial])
    assert logits.dtype == np.float32 and all(s.dtype == np.int8 for s in states)
    # Shared quantization: handing the int8 output back equals the float round trip a runner did before.
    for state, array in zip(result.sidecar["states"], states):
        assert np.array_equal(quantize(dequantize(array, state["quantization"]), state["quantization"]), array)
    again = runtime.run([frame, *(dequantize(s, q["quantization"]) for s, q in zip(states, result.sidecar["states"]))])
    assert np.array_equal(again[0], runtime.run([frame, *states])[0])


def test_a_sidecar_that_carries_a_state_its_artifact_quantizes_otherwise_is_refused(tflite_stream):
    result, _, _ = tflite_stream
    sidecar = stamped(result.sidecar)
    validate_sidecar(sidecar)
    broken = {**sidecar, "inputs": [dict(t) for t in sidecar["inputs"]]}
    broken["inputs"][3]["quantization"] = {**broken["inputs"][3]["quantization"], "zero_point": 5}
    with pytest.raises(ArtifactError, match=f"state {broken['inputs'][3]['name']} is carried as int8"):
        validate_sidecar(broken)


def _state_input_params(path, out, scale_factor: float, zero_point_shift: int = 0):
    """A copy of the artifact whose every state input reads its int8 values with other parameters than its output
    wrote them with: `scale_factor` times the scale, the zero point moved by `zero_point_shift`."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(path.read_bytes()))
    signature = model.signatureDefs[0]
    subgraph = model.subgraphs[signature.subgraphIndex]
    for entry in list(signature.inputs):
        if entry.name.decode().startswith("state_"):
            q = subgraph.tensors[entry.tensorIndex].quantization
            q.scale = q.scale * scale_factor
            q.zeroPoint = q.zeroPoint + zero_point_shift
    out.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    return out


@pytest.mark.parametrize(("scale_factor", "zero_point_shift"), [(1e-6, 0), (4.0, 40)],
                         ids=["memory read as zero", "input quantized unlike its output"])
def test_a_stream_whose_carried_states_are_misread_fails_verification(tflite_stream, tmp_path, scale_factor,
                                                                     zero_point_shift):
    """The artifact's own verification on the 27 motion val clips: a stream that reads its carried memory as zero,
    or reads it with parameters its output did not write it with, falls far below the int8 bar."""
    result, form, feeds = tflite_stream
    assert result.parity["verdict"] == "pass"
    damaged = _state_input_params(result.path, tmp_path / result.path.name, scale_factor, zero_point_shift)
    parity = verify_artifact(damaged, result.sidecar, form.module, feeds)
    assert parity["verdict"] == "fail" and not parity["passed"], parity["vs_fp32"]
    assert parity["vs_fp32"]["top1_agreement"] < 0.7, parity["vs_fp32"]


def test_the_state_options_reach_the_form_before_and_refuse_what_cannot_be_built():
    from stsm_edge.converters.base import get_converter

    from stsm_edge.errors import OptionError

    converter = get_converter("tflite")
    default = converter.options()
    assert (default.state_layout, default.state_quantization) == ("nhwc", "shared")
    before = converter.options({"state_layout": "nchw", "state_quantization": "separate"})
    assert (before.state_layout, before.state_quantization) == ("nchw", "separate")
    with pytest.raises(OptionError, match="needs state_layout=nhwc"):
        converter.options({"state_layout": "nchw"})
    with pytest.raises(OptionError, match="choose one of nhwc, nchw"):
        converter.options({"state_layout": "chw"})
