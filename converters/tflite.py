"""TFLite (LiteRT) target: litert-torch for fp32, ai-edge-quantizer for static int8.

fp32: litert-torch converts the float form with one signature whose inputs and outputs carry the
job's names (states are separate named tensors, so a runner passes them by name).

int8: the fp32 flatbuffer is quantized by ai-edge-quantizer's `static_wi8_ai8` recipe, calibrated
with the job's real input tuples. litert-torch's own PT2E int8 path is not used: on any model with
the shift it stops in its NHWC layout pass ("Attempting to convert non-NHWC compatible node to NHWC:
dequantize_per_tensor_N") because the dequantize feeding the shift's slices carries no shape
metadata; the same model without the shift converts. The quantized model's inputs and outputs are
int8, so their scale/zero-point go to the sidecar and the runtime adapter applies them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from torch import Tensor, nn

from converters.base import CalibrationError, Converter, ExportError, ExportJob, register

SIGNATURE = "serving_default"


class NamedIO(nn.Module):
    """Keyword inputs and a dict output, so litert-torch names the signature's tensors after the job."""

    def __init__(self, module: nn.Module, input_names: list[str], output_names: list[str]) -> None:
        super().__init__()
        self.module, self.input_names, self.output_names = module, input_names, output_names

    def forward(self, **inputs: Tensor) -> dict[str, Tensor]:
        outputs = self.module(*(inputs[name] for name in self.input_names))
        return dict(zip(self.output_names, outputs))


@contextmanager
def _quiet_litert_torch() -> Iterator[None]:
    """litert-torch prints a progress line per step; the export pipeline reports progress itself."""
    previous = os.environ.get("LITERT_TORCH_SHOW_PROGRESS")
    os.environ["LITERT_TORCH_SHOW_PROGRESS"] = "n"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("LITERT_TORCH_SHOW_PROGRESS", None)
        else:
            os.environ["LITERT_TORCH_SHOW_PROGRESS"] = previous


def convert_float(job: ExportJob) -> bytes:
    import litert_torch

    named = NamedIO(job.module, job.input_names, job.output_names).eval()
    sample = dict(zip(job.input_names, job.example_inputs))
    try:
        with _quiet_litert_torch():
            return litert_torch.convert(named, sample_kwargs=sample).model_content()
    except Exception as exc:  # the converter raises many unrelated types; report one line
        raise ExportError(f"litert-torch could not convert the {job.form} model: {type(exc).__name__}: {exc}") from exc


def quantize_int8(float_model: bytes, job: ExportJob) -> bytes:
    from ai_edge_quantizer import quantizer, recipe

    if not job.calibration:
        raise CalibrationError("tflite int8 needs calibration inputs, and the job has none")
    samples = [{name: t.numpy() for name, t in zip(job.input_names, inputs)} for inputs in job.calibration]
    qt = quantizer.Quantizer(float_model, recipe.static_wi8_ai8())
    # One calibration thread: the machine's cores are shared, and the feed is small.
    result = qt.calibrate({SIGNATURE: samples}, num_threads=1)
    quantized = qt.quantize(result, enable_progress_bar=False, enable_progress_report=False)
    return bytes(quantized.quantized_model)


def io_quantization(model: bytes) -> dict:
    """Scale, zero-point and dtype of every int8 signature input and output, by name."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=model).get_signature_runner(SIGNATURE)
    details = {**runner.get_input_details(), **runner.get_output_details()}
    found = {}
    for name, detail in details.items():
        scale, zero_point = detail["quantization"]
        if scale:  # a float tensor reports (0.0, 0)
            found[name] = {"scale": float(scale), "zero_point": int(zero_point), "dtype": detail["dtype"].__name__}
    return found


@register
class TFLiteConverter(Converter):
    name = "tflite"
    suffix = ".tflite"
    precisions = ("fp32", "int8")
    requires = ("litert_torch", "ai_edge_litert", "ai_edge_quantizer")

    def convert(self, job: ExportJob, path: Path) -> dict:
        model = convert_float(job)
        fields: dict = {"signature": SIGNATURE}
        if job.precision == "int8":
            model = quantize_int8(model, job)
            fields["io_quantization"] = io_quantization(model)
            fields["quantization"] = {"tool": "ai-edge-quantizer", "recipe": "static_wi8_ai8",
                                      "calibration_samples": len(job.calibration)}
        Path(path).write_bytes(model)
        return fields
