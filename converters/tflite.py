"""TFLite (LiteRT) target: litert-torch for fp32, ai-edge-quantizer for static int8.

fp32: litert-torch converts the float form with one signature whose inputs and outputs carry the
job's names (states are separate named tensors, so a runner passes them by name).

int8: the fp32 flatbuffer is quantized by ai-edge-quantizer (static int8 activations, per-channel int8
weights, min/max calibrated on the job's real input tuples), with deviations from its plain
`static_wi8_ai8` recipe, each kept because measuring (calibrated on one scene, verified on another)
showed the plain recipe losing there:

* logits stay float. With int8 logits their range is the calibration scenes' range: a scene more
  confident than the calibration clips saturates its top classes to one value, and argmax picks an
  arbitrary one. The classifier keeps int8 weights but computes in float (weight-only), and the
  signature's logits output is not quantized.
* the first `float_leading_convs` convolutions stay float (MobileNetV2: the stem conv and the first
  block's depthwise + projection, a few thousand weights). They see the image and the widest
  activations, where 8 bits lose the most; this is cheap in size, not in time, as they run at full
  resolution.
* weights are pre-rounded to the per-channel int8 grid in PyTorch with bias correction
  (`prequantize_weights`); the quantizer keeps them exactly.
* `compact` drops what no runtime reads but the file stored: long tensor names and repeated
  per-channel zero-point/scale vectors.

What remains is activation quantization: calibration ranges from one scene can be several times
narrower than another scene's deep-layer activations, so calibrate on frames like those the model
will see; the export's verification reports the agreement reached.

litert-torch's own PT2E int8 path is not used: on any model with the shift it stops in its NHWC
layout pass ("Attempting to convert non-NHWC compatible node to NHWC: dequantize_per_tensor_N")
because the dequantize feeding the shift's slices carries no shape metadata. The int8 model's frame
and state inputs and state outputs are int8, so their scale/zero-point go to the sidecar and the
runtime adapter applies them; logits are float.

A stream's states cross the artifact boundary as the runtime holds them inside (options, `TFLiteOptions`):

* `state_layout` "nhwc" (default): each state is (1, h, w, g), LiteRT's own layout, so the graph has no
  transpose in or out per state; "nchw" is the PyTorch layout (1, g, h, w), and the transposes stay in.
* `state_quantization` "shared" (default, int8 only): each state input is quantized with exactly the
  scale/zero-point of the new-state output that feeds it (`share_state_quantization` edits the flatbuffer
  after the quantizer), so a runner hands the int8 output back as the next input untouched, starting from
  the zero point; "separate" keeps the quantizer's own calibration of each, and a runner requantizes through
  float between steps.

Measured (int8 stream of MobileNetV2 at 224², 1 thread, benchmarks/shift_overhead.py, notes in
benchmarks/results/shift_overhead_notes.md), nhwc + shared is the form whose cost over plain MobileNetV2
meets the ×1.08 goal; nchw + separate, the form shipped before, does not.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from stsm_edge.converters.base import Conversion, Converter, ExportJob, Int8Options, register
from stsm_edge.converters.quantization import bias_corrected_module
from torch import Tensor, nn

from stsm_edge.errors import ExportError, OptionError

SIGNATURE = "serving_default"
STATE_LAYOUTS = ("nhwc", "nchw")
STATE_QUANTIZATIONS = ("shared", "separate")


@dataclass(frozen=True)
class TFLiteOptions(Int8Options):
    # How a stream's states cross the artifact boundary (module docstring).
    state_layout: str = "nhwc"
    state_quantization: str = "shared"

    CHOICES = {**Int8Options.CHOICES, "state_layout": STATE_LAYOUTS, "state_quantization": STATE_QUANTIZATIONS}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.state_layout == "nchw" and self.state_quantization == "shared":
            # An NCHW state enters through a TRANSPOSE, whose output keeps the input's int8 parameters, so the input
            # cannot take its output's parameters without the transpose reinterpreting its values.
            raise OptionError("tflite state_quantization=shared needs state_layout=nhwc; with state_layout=nchw "
                              "give state_quantization=separate")


class ChannelsLastStates(nn.Module):
    """The explicit stream with its states channels-last at the boundary: (1, h, w, g) in and out. The permutes
    cancel against litert-torch's own NHWC layout inside, so the flatbuffer carries no transpose per state."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, frame: Tensor, *states: Tensor) -> tuple[Tensor, ...]:
        logits, *new_states = self.module(frame, *(s.permute(0, 3, 1, 2) for s in states))
        return (logits, *(s.permute(0, 2, 3, 1) for s in new_states))


def channels_last_job(job: ExportJob) -> ExportJob:
    """The job with its stream's states channels-last: the module wrapped, its example and calibration permuted."""
    def permuted(inputs: tuple) -> tuple:
        return (inputs[0], *(s.permute(0, 2, 3, 1).contiguous() for s in inputs[1:]))

    return replace(job, module=ChannelsLastStates(job.module).eval(), example_inputs=permuted(job.example_inputs),
                   calibration=[permuted(inputs) for inputs in job.calibration])


def has_explicit_states(job: ExportJob) -> bool:
    return job.form == "stream" and len(job.input_names) > 1


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


_CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def _op_outputs(model: bytes) -> list[tuple[str, str]]:
    """(op name, first output tensor name) of every op of the main subgraph, in execution order."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    tensors = {t["index"]: t["name"] for t in interpreter.get_tensor_details()}
    return [(op["op_name"], tensors[op["outputs"][0]]) for op in interpreter._get_ops_details()]


def int8_recipe(float_model: bytes, job: ExportJob) -> list:
    import re

    from ai_edge_quantizer import recipe_manager
    from ai_edge_quantizer.qtyping import TFLOperationName as Op

    manager = recipe_manager.RecipeManager()
    manager.add_static_config(".*", Op.ALL_SUPPORTED, activation_num_bits=8, weight_num_bits=8)
    ops = _op_outputs(float_model)
    convs = [name for op, name in ops if op in _CONV_OPS][:job.options.float_leading_convs]
    # Everything after the classifier stays float too: the clip form's temporal average (MEAN over T)
    # would otherwise requantize the logits to the calibration range and clip them again.
    last_fc = max((i for i, (op, _) in enumerate(ops) if op == "FULLY_CONNECTED"), default=len(ops))
    after = [name for _, name in ops[last_fc + 1:]]
    for name in convs + after:  # an op's scope is its output tensor names, each followed by ";"
        manager.add_quantization_config(f"^{re.escape(name)};$", Op.ALL_SUPPORTED, None, "no_quantize")
    manager.add_weight_only_config(".*", Op.FULLY_CONNECTED, num_bits=8)
    manager.add_quantization_config(re.escape(job.output_names[0]), Op.OUTPUT, None, "no_quantize")
    return manager.get_quantization_recipe()


def quantize_int8(float_model: bytes, job: ExportJob) -> bytes:
    from ai_edge_quantizer import quantizer

    samples = [{name: t.numpy() for name, t in zip(job.input_names, inputs)} for inputs in job.calibration]
    qt = quantizer.Quantizer(float_model, int8_recipe(float_model, job))
    # One calibration thread: the machine's cores are shared, and the feed is small.
    result = qt.calibrate({SIGNATURE: samples}, num_threads=1)
    quantized = qt.quantize(result, enable_progress_bar=False, enable_progress_report=False)
    return bytes(quantized.quantized_model)


def share_state_quantization(model: bytes, state_names: list[str]) -> bytes:
    """Each state carried as int8: its output `new_<s>` int8, and its input `<s>` quantized exactly like it.

    The quantizer leaves every graph output float (the logits' float rule disables its one virtual output op), so a
    new state leaves through a DEQUANTIZE of an int8 tensor: that tensor becomes the output, and the DEQUANTIZE goes.
    The input's consumers read its int8 values through the tensor's own scale/zero-point (in this graph a QUANTIZE
    to the splice's scale), so giving it the output's parameters keeps the graph exact, provided that no consumer
    requires its output's parameters to equal its input's (a transpose or reshape would reinterpret the values
    silently): refused, rather than wrong, if one does.
    """
    from ai_edge_litert.tools import flatbuffer_utils

    parsed = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    signature = next(sig for sig in parsed.signatureDefs if sig.signatureKey.decode() == SIGNATURE)
    subgraph = parsed.subgraphs[signature.subgraphIndex]
    inputs = {t.name.decode(): t for t in signature.inputs}
    outputs = {t.name.decode(): t for t in signature.outputs}
    codes = {id(op): flatbuffer_utils.opcode_to_name(parsed, op.opcodeIndex) for op in subgraph.operators}
    producer = {index: op for op in subgraph.operators for index in op.outputs}
    for name in state_names:
        entry = outputs["new_" + name]
        dequantize = producer.get(entry.tensorIndex)
        if dequantize is not None and codes[id(dequantize)] == "DEQUANTIZE":
            carried = int(dequantize.inputs[0])
            subgraph.tensors[carried].name = subgraph.tensors[entry.tensorIndex].name
            subgraph.outputs = [carried if i == entry.tensorIndex else i for i in subgraph.outputs]
            entry.tensorIndex = carried
            subgraph.operators.remove(dequantize)
        source, target = subgraph.tensors[entry.tensorIndex], subgraph.tensors[inputs[name].tensorIndex]
        if source.quantization is None or source.quantization.scale is None or target.quantization is None \
                or source.type != target.type:
            raise ExportError(f"state {name}: its input and output are not both quantized to one type")
        for op in subgraph.operators:
            if inputs[name].tensorIndex in list(op.inputs) and codes[id(op)] in ("TRANSPOSE", "RESHAPE", "SQUEEZE"):
                raise ExportError(f"state {name} feeds a {codes[id(op)]}, whose output keeps the input's quantization")
        target.quantization.scale = source.quantization.scale.copy()
        target.quantization.zeroPoint = source.quantization.zeroPoint.copy()
    return bytes(flatbuffer_utils.convert_object_to_bytearray(parsed))


def compact(model: bytes) -> bytes:
    """The same graph and weights, stored smaller: what an int8 file has that a runtime never reads.

    * tensor names: litert-torch names every tensor by its module path, a large share of a small
      model's file; all but the signature's inputs and outputs become "t<index>".
    * per-channel quantization vectors: every per-channel weight and bias stores its own zero-point
      vector (int64 zeros, one per channel) and bias scales repeat; identical vectors are written once
      and shared, which a flatbuffer allows.
    """
    import flatbuffers
    import numpy as np
    from ai_edge_litert.tools import flatbuffer_utils

    parsed = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    for index, subgraph in enumerate(parsed.subgraphs):
        keep = {t.tensorIndex for sig in parsed.signatureDefs if sig.subgraphIndex == index
                for t in list(sig.inputs or []) + list(sig.outputs or [])}
        keep |= set(subgraph.inputs) | set(subgraph.outputs)
        for i, tensor in enumerate(subgraph.tensors):
            if i not in keep:
                tensor.name = f"t{i}"

    class SharingBuilder(flatbuffers.Builder):
        """Writes each distinct int64/float32 vector once (quantization scales and zero points)."""

        def __init__(self, size: int) -> None:
            super().__init__(size)
            self._written: dict = {}

        def CreateNumpyVector(self, x):  # noqa: N802 (flatbuffers' name)
            if x.dtype not in (np.int64, np.float32):
                return super().CreateNumpyVector(x)
            key = (x.dtype.str, x.tobytes())
            if key not in self._written:
                self._written[key] = super().CreateNumpyVector(x)
            return self._written[key]

    builder = SharingBuilder(len(model))
    builder.Finish(parsed.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


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
    options_type = TFLiteOptions
    requires = ("litert_torch", "ai_edge_litert", "ai_edge_quantizer")

    def convert(self, job: ExportJob, path: Path) -> Conversion:
        fields: dict = {"signature": SIGNATURE}
        states = job.input_names[1:] if has_explicit_states(job) else []
        nhwc = bool(states) and job.options.state_layout == "nhwc"
        converted = channels_last_job(job) if nhwc else job  # the reference stays NCHW, as verification feeds it
        layouts = {name: "nhwc" if nhwc else "nchw" for name in states}
        if job.precision == "fp32":
            Path(path).write_bytes(convert_float(converted))
            return Conversion(fields, state_layouts=layouts)
        reference = bias_corrected_module(job)
        model = quantize_int8(convert_float(replace(converted, module=_rewrapped(converted, reference))), converted)
        if states and job.options.state_quantization == "shared":
            model = share_state_quantization(model, states)
        model = compact(model)
        fields["quantization"] = {
            "tool": "ai-edge-quantizer", "recipe": "static int8 activations, per-channel int8 weights, min/max",
            "float_ops": f"first {job.options.float_leading_convs} convolutions; "
                         "classifier computes in float from int8 weights; logits output float",
            "calibration_samples": len(job.calibration)}
        Path(path).write_bytes(model)
        return Conversion(fields, quantized_reference=reference, io_quantization=io_quantization(model),
                          state_layouts=layouts)


def _rewrapped(job: ExportJob, module: nn.Module) -> nn.Module:
    """`module` in the job's wrapping: channels-last states where the job's module has them."""
    return ChannelsLastStates(module).eval() if isinstance(job.module, ChannelsLastStates) else module
