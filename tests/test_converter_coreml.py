"""CoreML target: export every precision through the pipeline and check the ML Program's structure.

Prediction needs macOS, so on Linux the checks read the saved package's spec: the names, shapes and
dtypes the runner relies on, and how each precision stores its conv/linear weights.
"""

from __future__ import annotations

import shutil
import sys

import coremltools as ct
import pytest
import torch
from small_models import (
    SPEC,
    export_grid,
    small_causal_model,
    split_frames,
)
from stsm_edge.converters import get_converter
from stsm_edge.converters.base import ExportJob, build_form
from stsm_edge.converters.coreml import check_structure, describe

from stsm_edge.errors import ArtifactError, TargetUnavailable
from stsm_edge.runtimes.base import open_runtime

PRECISIONS = ("fp32", "fp16", "int8", "int8w")
FORMS = ("clip", "stream")
# Conv2d layers of STSM-MobileNetV2 (52) plus the classifier's linear layer.
WEIGHTED_LAYERS = 53


@pytest.fixture(scope="module")
def frames():
    return split_frames(8)


@pytest.fixture(scope="module")
def model(frames):
    return small_causal_model(frames["calibration"])


@pytest.fixture(scope="module")
def artifacts(model, frames, tmp_path_factory):
    return export_grid(model, "coreml", FORMS, PRECISIONS, frames, tmp_path_factory.mktemp("coreml"))


def saved_structure(result) -> dict:
    return describe(ct.utils.load_spec(str(result.path)))


def job_for(model, form: str, precision: str) -> ExportJob:
    spec = build_form(model, form, *SPEC.size)
    inputs = tuple(torch.zeros(t["shape"]) for t in spec.inputs)
    return ExportJob("probe", form, precision, spec.module, inputs, spec.input_names, spec.output_names, [])


def test_packages_carry_the_sidecar_names_shapes_and_float_io(artifacts):
    for (form, precision), result in artifacts.items():
        assert result.path.is_dir() and (result.path / "Manifest.json").is_file()
        assert result.path.name.endswith(".mlpackage")
        structure = saved_structure(result)
        for group in ("inputs", "outputs"):
            got = [(t["name"], t["shape"], t["dtype"]) for t in structure[group]]
            assert got == [(t["name"], t["shape"], "fp32") for t in result.sidecar[group]], (form, precision)
        assert result.sidecar["parity"]["passed"] and result.sidecar["parity"]["structural"] == structure
    stream = artifacts["stream", "fp32"].sidecar
    states = [s["name"] for s in stream["states"]]
    assert states and all(name.startswith("state_") for name in states)
    assert [t["name"] for t in stream["outputs"]] == ["logits"] + ["new_" + s for s in states]


def test_each_precision_stores_weights_as_promised(artifacts):
    expected = {"fp32": "fp32", "fp16": "fp16", "int8": "int8", "int8w": "int8"}
    for (form, precision), result in artifacts.items():
        structure = saved_structure(result)
        assert structure["weight_dtypes"] == {expected[precision]: WEIGHTED_LAYERS}, (form, precision)
        ops = structure["op_histogram"]
        assert ops["conv"] == WEIGHTED_LAYERS - 1 and ops["linear"] == 1
        if precision.startswith("int8"):
            assert ops["constexpr_affine_dequantize"] == WEIGHTED_LAYERS
        # Only W8A8 quantizes activations; weight-only int8 computes in fp16 between float weights.
        assert ("quantize" in ops) == (precision == "int8"), (form, precision)


def weight_bytes(result) -> int:
    return (result.path / "Data" / "com.apple.CoreML" / "weights" / "weight.bin").stat().st_size


def test_smaller_precisions_store_smaller_weights(artifacts):
    # The weight file, not the package: at width 0.35 the program text is a third of the package.
    for form in FORMS:
        fp32 = weight_bytes(artifacts[form, "fp32"])
        assert weight_bytes(artifacts[form, "fp16"]) < 0.55 * fp32
        assert weight_bytes(artifacts[form, "int8"]) < 0.3 * fp32
        assert weight_bytes(artifacts[form, "int8w"]) < 0.3 * fp32
        assert artifacts[form, "int8"].size_bytes < artifacts[form, "fp16"].size_bytes < artifacts[form, "fp32"].size_bytes
        package = {p.name for p in artifacts[form, "int8"].path.iterdir()}
        assert package == {"Manifest.json", "Data"}, package


def test_structure_check_rejects_a_mismatch(artifacts, model):
    structure = saved_structure(artifacts["stream", "fp32"])
    check_structure(structure, job_for(model, "stream", "fp32"))  # the matching job passes
    with pytest.raises(ArtifactError, match="int8"):
        check_structure(structure, job_for(model, "stream", "int8w"))
    with pytest.raises(ArtifactError, match="outputs"):
        check_structure(structure, _renamed(job_for(model, "stream", "fp32")))
    with pytest.raises(ArtifactError, match="inputs"):
        check_structure(structure, job_for(model, "clip", "fp32"))
    int8w = saved_structure(artifacts["stream", "int8w"])
    with pytest.raises(ArtifactError, match="activation quantize"):
        check_structure(int8w, job_for(model, "stream", "int8"))


def _renamed(job: ExportJob) -> ExportJob:
    job.output_names = ["logits"] + [name.replace("new_", "next_") for name in job.output_names[1:]]
    return job


def test_verify_structure_rejects_a_damaged_package(artifacts, model, tmp_path):
    damaged = tmp_path / "damaged.mlpackage"
    shutil.copytree(artifacts["clip", "fp32"].path, damaged)
    (damaged / "Manifest.json").unlink()
    with pytest.raises(ArtifactError, match="not a readable CoreML model"):
        get_converter("coreml").verify_structure(damaged, job_for(model, "clip", "fp32"))


@pytest.mark.skipif(sys.platform == "darwin", reason="CoreML predicts on macOS")
def test_runtime_refuses_off_macos_in_one_line(artifacts):
    result = artifacts["clip", "fp32"]
    with pytest.raises(TargetUnavailable, match="CoreML prediction needs macOS") as info:
        open_runtime(result.path, result.sidecar)
    assert "\n" not in str(info.value)
