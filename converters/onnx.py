"""ONNX target: torch.onnx's dynamo exporter for fp32, ONNX Runtime static quantization for int8.

The artifact is one self-contained file unless the options ask for `external_data`. int8 keeps float
inputs and outputs (ONNX Runtime quantizes at the graph edge), so the sidecar needs no I/O scales.

int8 follows converters/tflite.py: weights pre-rounded to the per-channel grid with bias correction,
the first `float_leading_convs` convolutions float, and the classifier (Gemm) float so the logits are
not clipped to the calibration scenes' range (ORT's QGemm output is uint8 with the calibrated range;
with it quantized, confident frames saturate their top classes and top-1 agreement collapses). The
float Gemm keeps its fp32 weights (ORT has no weight-only static path), so the classifier's weights
are stored at four bytes each.

`quant_format` picks QOperator (uint8 activations; the default, the faster of the two where timed) or
QDQ (int8 activations); both were measured to agree with fp32 about equally.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from stsm_edge.converters.base import Conversion, Converter, ExportJob, Int8Options, register
from stsm_edge.converters.quantization import bias_corrected_module

from stsm_edge.errors import ExportError

QUANT_FORMATS = ("qoperator", "qdq")


@dataclass(frozen=True)
class OnnxOptions(Int8Options):
    quant_format: str = "qoperator"
    # Weights in a file beside the graph, for models past protobuf's 2 GB limit.
    external_data: bool = False

    CHOICES = {**Int8Options.CHOICES, "quant_format": QUANT_FORMATS}


def export_float(job: ExportJob, path: Path) -> None:
    import torch

    external = job.options.external_data
    try:
        torch.onnx.export(job.module, job.example_inputs, str(path), dynamo=True, input_names=job.input_names,
                          output_names=job.output_names, external_data=external, verbose=False)
    except Exception as exc:  # the exporter raises many unrelated types; report one line
        raise ExportError(f"torch.onnx could not export the {job.form} model: {type(exc).__name__}: {exc}") from exc


def _calibration_reader(job: ExportJob):
    from onnxruntime.quantization import CalibrationDataReader

    class JobCalibration(CalibrationDataReader):
        def __init__(self) -> None:
            self._samples = iter(job.calibration)

        def get_next(self) -> dict | None:
            inputs = next(self._samples, None)
            return None if inputs is None else {n: t.numpy() for n, t in zip(job.input_names, inputs)}

    return JobCalibration()


def float_nodes(model_path: Path, leading: int) -> list[str]:
    """Nodes kept float: the first `leading` Convs and the classifier (Gemm/MatMul feeding the logits)."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    convs = [n.name for n in graph.node if n.op_type == "Conv"][:leading]
    classifier = [n.name for n in graph.node if n.op_type in ("Gemm", "MatMul") and graph.output[0].name in n.output]
    if not classifier:  # a Reshape or Identity may sit between the classifier and the graph output
        classifier = [n.name for n in graph.node if n.op_type in ("Gemm", "MatMul")][-1:]
    return convs + classifier


def quantize_int8(float_path: Path, job: ExportJob, path: Path) -> dict:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = float_path.with_name("prepared.onnx")
    # Folds BatchNorm into Conv and infers shapes, so every Conv gets quantized with its real scale.
    quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
    chosen = job.options.quant_format
    qformat = QuantFormat.QOperator if chosen == "qoperator" else QuantFormat.QDQ
    # QOperator runs fastest with uint8 activations; QDQ's default is int8 on both sides.
    activation = QuantType.QUInt8 if chosen == "qoperator" else QuantType.QInt8
    excluded = float_nodes(prepared, job.options.float_leading_convs)
    quantize_static(str(prepared), str(path), _calibration_reader(job), quant_format=qformat, per_channel=True,
                    activation_type=activation, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=excluded,
                    use_external_data_format=job.options.external_data)
    return {"tool": "onnxruntime.quantization", "format": chosen, "per_channel": True,
            "activation_type": activation.name, "weight_type": "QInt8", "calibration_samples": len(job.calibration),
            "float_nodes": excluded}


@register
class OnnxConverter(Converter):
    name = "onnx"
    suffix = ".onnx"
    precisions = ("fp32", "int8")
    options_type = OnnxOptions
    requires = ("onnx", "onnxscript", "onnxruntime")

    def convert(self, job: ExportJob, path: Path) -> Conversion:
        path = Path(path)
        if job.precision == "fp32":
            export_float(job, path)
            return Conversion({"opset": _opset(path)})
        # Weights pre-rounded to ORT's per-channel int8 grid with bias correction (converters/tflite.py);
        # the classifier stays float here, so its weights are left alone.
        reference = bias_corrected_module(job, linear=False)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            float_path = Path(tmp) / "float.onnx"
            export_float(replace(job, module=reference), float_path)
            quantization = quantize_int8(float_path, job, path)
        return Conversion({"quantization": quantization, "opset": _opset(path)}, quantized_reference=reference)


def _opset(path: Path) -> int:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
