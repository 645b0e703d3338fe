"""What every converter shares: registry, errors users can cause, no half-written files, the sidecar."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from small_models import LABELS, SPEC, T, real_frames, small_causal_model
from stsm_edge.converters import TARGETS, export_artifact, get_converter

from stsm_edge.errors import ArtifactError, CalibrationError, ExportError, InputError
from stsm_edge.forms import build_form, form_inputs
from stsm_edge.sidecar import read_sidecar, sidecar_path, validate_sidecar


@pytest.fixture(scope="module")
def frames():
    return real_frames(16, "box.mp4")


@pytest.fixture(scope="module")
def model(frames):
    return small_causal_model(frames)


def test_every_target_is_registered_with_its_suffix():
    suffixes = {target: get_converter(target).suffix for target in TARGETS}
    assert suffixes == {"executorch": ".pte", "coreml": ".mlpackage", "tflite": ".tflite", "onnx": ".onnx"}


def test_unknown_target_and_precision_are_clear_errors(model, frames, tmp_path):
    with pytest.raises(ExportError, match="unknown target 'tensorrt'"):
        get_converter("tensorrt")
    with pytest.raises(ExportError, match="no fp16 export"):
        export_artifact(model, "onnx", "stream", "fp16", tmp_path, frames, frames, LABELS, SPEC)


def test_fp32_onnx_export_writes_artifact_and_valid_sidecar(model, frames, tmp_path):
    result = export_artifact(model, "onnx", "stream", "fp32", tmp_path, [], frames[: 2 * T], LABELS, SPEC,
                             source={"checkpoint": "test"})
    sidecar = read_sidecar(result.path)
    assert result.parity["passed"] and sidecar["parity"]["vs_fp32"]["max_abs_diff"] <= 1e-4
    assert [i["name"] for i in sidecar["inputs"]][:2] == ["frame", "state_features_3"]
    assert sidecar["outputs"][1]["name"] == "new_state_features_3"
    assert sidecar["model"]["causal"] and sidecar["labels"] == LABELS and "torch" in sidecar["tools"]
    # Converted in the shift's deploy form, yet equal to the training form within 1e-4 (checked above).
    assert sidecar["shift_form"] == "deploy" and "stsm-edge converters" in sidecar["tools"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mobilenet_v2_stream_fp32.onnx", "mobilenet_v2_stream_fp32.onnx.json"]


def test_unknown_shift_form_is_a_clear_error(model, frames, tmp_path):
    with pytest.raises(ExportError, match="unknown shift_form 'rolled'"):
        export_artifact(model, "onnx", "stream", "fp32", tmp_path, [], frames[: 2 * T], LABELS, SPEC,
                        options={"shift_form": "rolled"})
    assert not list(tmp_path.iterdir())


def test_unwritable_output_dir_is_clear_and_leaves_nothing(model, frames, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores mode bits: use a path under a regular file instead
            locked = tmp_path / "a_file"
            locked.write_text("x")
            target = locked / "out"
        else:
            target = locked
        with pytest.raises(InputError, match="output directory|cannot create"):
            export_artifact(model, "onnx", "clip", "fp32", target, [], frames, LABELS, SPEC)
    finally:
        (tmp_path / "locked").chmod(0o700)
    assert not any(p.suffix in {".onnx", ".json"} for p in tmp_path.rglob("*"))


def test_failed_conversion_leaves_no_partial_file(model, frames, tmp_path):
    # An ONNX export option the converter refuses before it writes anything that could be renamed.
    with pytest.raises(ExportError):
        export_artifact(model, "onnx", "stream", "int8", tmp_path, frames, frames, LABELS, SPEC,
                        options={"quant_format": "nonsense"})
    assert list(tmp_path.iterdir()) == []


def test_int8_without_calibration_frames_is_a_clear_error(model, frames, tmp_path):
    with pytest.raises(CalibrationError, match="calibration"):
        export_artifact(model, "onnx", "stream", "int8", tmp_path, [], frames, LABELS, SPEC)
    assert list(tmp_path.iterdir()) == []


def test_empty_calibration_folder_from_the_cli(tmp_path):
    empty = tmp_path / "no_frames"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    result = subprocess.run([sys.executable, "-m", "stsm_edge", "export", "--default", "--target", "onnx",
                             "--precision", "int8", "--form", "stream", "--calib", str(empty), "--out",
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 2
    assert result.stderr.strip() == f"stsm-edge: error: {empty}: no readable images"
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_missing_optional_library_is_one_line(tmp_path):
    # A real import failure: the interpreter is told the quantizer package is absent.
    code = ("import sys; sys.modules['ai_edge_quantizer'] = None; sys.modules['litert_torch'] = None; "
            "from stsm_edge.cli import main; sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", code, "export", "--default", "--target", "tflite",
                             "--precision", "int8", "--form", "stream", "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "tflite" in result.stderr and "litert_torch" in result.stderr
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_stream_calibration_carries_real_states(model, frames):
    form = build_form(model, "stream", *SPEC.size)
    feed = form_inputs(form, frames[:5], model.n_segments)
    assert all(float(s.abs().sum()) == 0.0 for s in feed[0][1:])  # frame 0: the zero fill
    assert all(float(s.abs().sum()) > 0.0 for s in feed[3][1:])  # later frames: the previous frame's channels
    clips = form_inputs(build_form(model, "clip", *SPEC.size), frames[:6], T)
    assert len(clips) == 3 and tuple(clips[0][0].shape) == (1, T, 3, *SPEC.size)


def test_sidecar_validation_names_the_problem(model, frames, tmp_path):
    result = export_artifact(model, "onnx", "clip", "fp32", tmp_path, [], frames[: 2 * T], LABELS, SPEC)
    data = json.loads(sidecar_path(result.path).read_text())
    for broken, message in [({**data, "labels": ["x"]}, "1 labels for 10 classes"),
                            ({k: v for k, v in data.items() if k != "inputs"}, "'inputs' is a required property"),
                            ({**data, "version": 99}, "newer"),
                            ({**data, "form": "video"}, r"form: 'video' is not one of \['clip', 'stream'\]"),
                            ({**data, "inputs": [{"name": "x", "shape": [1]}]}, r"inputs\[0\]: 'dtype' is a required"),
                            ({**data, "time_step": {"seconds": 0}}, "time_step")]:
        with pytest.raises(ArtifactError, match=message):
            validate_sidecar(broken)
    assert np.isfinite(result.parity["vs_fp32"]["max_abs_diff"])
