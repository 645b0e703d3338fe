"""ONNX target: torch.onnx's dynamo exporter for fp32, ONNX Runtime static quantization for int8.

The artifact is one self-contained file unless the job asks for `external_data`. int8 keeps float
inputs and outputs (ONNX Runtime quantizes at the graph edge), so the sidecar needs no I/O scales.
QOperator (QLinearConv and friends) is the default format: on this CPU it runs the streaming
MobileNetV2 faster than QDQ, whose quantize/dequantize pairs ORT only partly fuses; `quant_format`
("qoperator" | "qdq") picks the other.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from converters.base import CalibrationError, Converter, ExportError, ExportJob, register

QUANT_FORMATS = ("qoperator", "qdq")


def export_float(job: ExportJob, path: Path) -> None:
    import torch

    external = bool(job.options.get("external_data", False))
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


def quant_format(job: ExportJob) -> str:
    chosen = str(job.options.get("quant_format", "qoperator")).lower()
    if chosen not in QUANT_FORMATS:
        raise ExportError(f"unknown ONNX quant_format {chosen!r}; choose one of {', '.join(QUANT_FORMATS)}")
    return chosen


def quantize_int8(float_path: Path, job: ExportJob, path: Path) -> dict:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not job.calibration:
        raise CalibrationError("onnx int8 needs calibration inputs, and the job has none")
    chosen = quant_format(job)
    prepared = float_path.with_name("prepared.onnx")
    # Folds BatchNorm into Conv and infers shapes, so every Conv gets quantized with its real scale.
    quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
    qformat = QuantFormat.QOperator if chosen == "qoperator" else QuantFormat.QDQ
    # QOperator runs fastest with uint8 activations; QDQ's default is int8 on both sides.
    activation = QuantType.QUInt8 if chosen == "qoperator" else QuantType.QInt8
    quantize_static(str(prepared), str(path), _calibration_reader(job), quant_format=qformat, per_channel=True,
                    activation_type=activation, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                    use_external_data_format=bool(job.options.get("external_data", False)))
    return {"tool": "onnxruntime.quantization", "format": chosen, "per_channel": True,
            "activation_type": activation.name, "weight_type": "QInt8", "calibration_samples": len(job.calibration)}


@register
class OnnxConverter(Converter):
    name = "onnx"
    suffix = ".onnx"
    precisions = ("fp32", "int8")
    requires = ("onnx", "onnxscript", "onnxruntime")

    def convert(self, job: ExportJob, path: Path) -> dict:
        path = Path(path)
        if job.precision == "fp32":
            export_float(job, path)
            return {"opset": _opset(path)}
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            float_path = Path(tmp) / "float.onnx"
            export_float(job, float_path)
            fields = {"quantization": quantize_int8(float_path, job, path)}
        fields["opset"] = _opset(path)
        return fields


def _opset(path: Path) -> int:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
