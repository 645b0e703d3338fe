"""CoreML target: coremltools converts a `torch.export` program to an ML Program (.mlpackage, iOS 17).

fp32 and fp16 set coremltools' compute precision. int8 (W8A8) quantizes in PyTorch first: executorch's
`CoreMLQuantizer` annotates the graph, torchao's PT2E prepare/calibrate/convert inserts the
quantize/dequantize pairs, and coremltools turns them into int8 weights and activation quantize ops.
int8w quantizes only the weights, after conversion, with `ct.optimize.coreml.linear_quantize_weights`.
Inputs and outputs stay float32 for every precision, so runners feed the same arrays to all of them.

The `state` option "internal" makes an iOS 18 stateful model: the stream's states are CoreML states
(`ct.StateType`, from the buffers of stsm_edge.streaming.InternalStateModel), read and written inside
the program, so its only input is the frame and its only output the logits. CoreML keeps states in
fp16 only, so the states of such a model are fp16 at every precision (the sidecar says so). An app
starts a stream with a fresh `MLModel.makeState()` and passes it to every prediction.

CoreML runs only on macOS; elsewhere the artifact is checked structurally (`verify_structure`: names,
shapes, dtypes, the storage dtype of every conv/linear weight, and any states with the ops that read
and write them), which needs no CoreML runtime. `coreml_partitioner` gives the ExecuTorch CoreML
delegate the same settings.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from stsm_edge.converters.base import (
    Conversion,
    Converter,
    ConverterOptions,
    ExportJob,
    calibrate,
    register,
)
from torch import nn

from stsm_edge.architectures import STATE_LOCATIONS
from stsm_edge.errors import ArtifactError, CalibrationError, ExportError
from stsm_edge.streaming import reset_states

# iOS 17 is the first target whose ML Programs carry activation quantize/dequantize (W8A8); iOS 18 the first
# with states, which a model that keeps its streaming states inside needs.
DEPLOYMENT_TARGET = "iOS17"
STATEFUL_DEPLOYMENT_TARGET = "iOS18"
# The ML Program specification version each deployment target writes.
SPECIFICATION_TARGETS = {8: "iOS17", 9: "iOS18"}
# The only dtype CoreML keeps states in.
STATE_DTYPE = "float16"
# The storage dtype every conv/linear weight must have in an artifact of each precision.
WEIGHT_DTYPES = {"fp32": "fp32", "fp16": "fp16", "int8": "int8", "int8w": "int8"}
# Compute precision per export precision: int8 keeps fp16 math between its quantized tensors, as the
# Neural Engine does, instead of fp32 which would keep the model off it.
COMPUTE_PRECISIONS = {"fp32": "FLOAT32", "fp16": "FLOAT16", "int8": "FLOAT16", "int8w": "FLOAT16"}
WEIGHTED_OPS = ("conv", "linear", "conv_transpose", "matmul")


# ---- conversion ---------------------------------------------------------------------------------

def export_program(module: nn.Module, example_inputs: tuple) -> torch.export.ExportedProgram:
    try:
        program = torch.export.export(module, example_inputs).run_decompositions({})
    except Exception as exc:  # export raises many unrelated types; report one line
        raise ExportError(f"torch.export could not trace the model: {type(exc).__name__}: {exc}") from exc
    _drop_aliases(program)
    return program


def _drop_aliases(program: torch.export.ExportedProgram) -> None:
    """Bypass `aten.alias` nodes, which coremltools' frontend has no converter for.

    Re-exporting a PT2E-converted model leaves one where the shift narrows a reshaped view; in a
    graph without in-place ops an alias is the identity.
    """
    graph = program.graph_module.graph
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target is torch.ops.aten.alias.default:
            node.replace_all_uses_with(node.args[0])
            graph.erase_node(node)
    program.graph_module.recompile()


@contextmanager
def _fewer_quantizer_patterns() -> Iterator[None]:
    """Limit CoreMLQuantizer's fused-activation patterns to those our backbones contain.

    The stock quantizer torch.exports ~400 pattern graphs (conv 1d/2d/3d, linear, add, mul x eleven
    activations, in-place or not) on every call: 150-250 s here, whatever the model size. MobileNetV2
    uses relu6 (traced as hardtanh) and ResNet relu; any other activation is still quantized, only
    not fused with the op before it.
    """
    import torch.nn.functional as F
    from executorch.backends.apple.coreml.quantizer import _coreml_quantizer_utils as utils

    saved = utils._supported_activations, utils._supported_activations_no_inplace
    utils._supported_activations, utils._supported_activations_no_inplace = (F.relu, F.relu6, F.hardtanh), ()
    try:
        yield
    finally:
        utils._supported_activations, utils._supported_activations_no_inplace = saved


def quantize_w8a8(job: ExportJob) -> nn.Module:
    """The job's module with int8 quantize/dequantize pairs calibrated on the job's real inputs."""
    from coremltools.optimize.torch.quantization.quantization_config import (
        LinearQuantizerConfig,
        ModuleLinearQuantizerConfig,
    )
    from executorch.backends.apple.coreml.quantizer import CoreMLQuantizer
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    if not job.calibration:
        raise CalibrationError("coreml int8 needs calibration inputs, and the job has none")
    # Symmetric per-channel int8 weights, uint8 activations: the scheme Apple's W8A8 examples use.
    config = LinearQuantizerConfig(global_config=ModuleLinearQuantizerConfig(
        quantization_scheme="symmetric", activation_dtype=torch.quint8, weight_dtype=torch.qint8,
        weight_per_channel=True))
    graph = torch.export.export(job.module, job.example_inputs).module()
    with _fewer_quantizer_patterns():
        prepared = prepare_pt2e(graph, CoreMLQuantizer(config))
    calibrate(prepared, job)
    return convert_pt2e(prepared)


def convert_mlprogram(program: torch.export.ExportedProgram, job: ExportJob, precision: str):
    import coremltools as ct
    import numpy as np

    inputs = [ct.TensorType(name=name, shape=tuple(t.shape), dtype=np.float32)
              for name, t in zip(job.input_names, job.example_inputs)]
    outputs = [ct.TensorType(name=name, dtype=np.float32) for name in job.output_names]
    internal = job.options.state == "internal"
    # The buffers' names are the states' names, so the model's states are named as the sidecar lists them.
    states = [ct.StateType(wrapped_type=ct.TensorType(shape=spec.shape, dtype=getattr(np, STATE_DTYPE)), name=spec.name)
              for spec in job.states] if internal else None
    target = STATEFUL_DEPLOYMENT_TARGET if internal else DEPLOYMENT_TARGET
    try:
        return ct.convert(program, inputs=inputs, outputs=outputs, states=states, convert_to="mlprogram",
                          minimum_deployment_target=getattr(ct.target, target),
                          compute_precision=getattr(ct.precision, COMPUTE_PRECISIONS[precision]),
                          skip_model_load=True)
    except Exception as exc:  # the converter raises many unrelated types; report one line
        raise ExportError(f"coremltools could not convert the {job.form} model: {type(exc).__name__}: {exc}") from exc


def quantize_weights_int8(mlmodel):
    """Every conv/linear weight to int8, per output channel; biases and other constants stay float.

    coremltools skips weights of up to 2048 elements by default, which at small widths is half the
    depthwise convs; the threshold is lifted so every conv of the model reads int8 weights.
    """
    import coremltools.optimize as cto

    weights = cto.coreml.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8",
                                                 granularity="per_channel", weight_threshold=0)
    config = cto.coreml.OptimizationConfig(op_type_configs={op: weights for op in WEIGHTED_OPS})
    return cto.coreml.linear_quantize_weights(mlmodel, config=config)


# ---- structure ----------------------------------------------------------------------------------

_DTYPE_NAMES = {"FLOAT32": "fp32", "FLOAT16": "fp16", "INT8": "int8", "UINT8": "uint8", "INT32": "int32",
                "DOUBLE": "fp64"}


def _dtype_name(mil_dtype: int) -> str:
    from coremltools.proto import MIL_pb2

    name = MIL_pb2.DataType.Name(mil_dtype)
    return _DTYPE_NAMES.get(name, name.lower())


def _feature(feature) -> dict:
    from coremltools.proto import FeatureTypes_pb2

    array = feature.type.multiArrayType
    dtype = FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name(array.dataType)
    return {"name": feature.name, "shape": list(array.shape), "dtype": _DTYPE_NAMES.get(dtype, dtype.lower())}


def _main_operations(spec) -> list:
    if not spec.HasField("mlProgram"):
        raise ArtifactError("the CoreML model is not an ML Program")
    main = spec.mlProgram.functions["main"]
    return list(main.block_specializations[main.opset].operations)


def _weight_storage(op, producers: dict) -> str:
    """Storage dtype of the tensor behind a conv/linear weight, looking through dequantize and casts."""
    name = op.inputs["weight"].arguments[0].name
    source = producers.get(name)
    while source is not None and source.type in ("cast", "dequantize"):
        inner = source.inputs["input"].arguments[0].name
        source = producers.get(inner)
    if source is None:
        return "activation"
    if source.type == "const":
        return _dtype_name(source.outputs[0].type.tensorType.dataType)
    # iOS 17's weight decompression op keeps its int8 data as an attribute; iOS 18's (a stateful model's) as an input.
    if source.type == "constexpr_affine_dequantize":
        return _dtype_name(source.attributes["quantized_data"].type.tensorType.dataType)
    if source.type == "constexpr_blockwise_shift_scale":
        return _dtype_name(source.inputs["data"].arguments[0].value.type.tensorType.dataType)
    return source.type


def _state(feature) -> dict:
    from coremltools.proto import FeatureTypes_pb2

    array = feature.type.stateType.arrayType
    dtype = FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name(array.dataType)
    return {"name": feature.name, "shape": list(array.shape), "dtype": _DTYPE_NAMES.get(dtype, dtype.lower())}


def _state_access(operations: list, op_type: str) -> dict[str, int]:
    """How many `op_type` ops (read_state, write_state) name each state as their `input`."""
    return dict(Counter(op.inputs["input"].arguments[0].name for op in operations if op.type == op_type))


def describe(spec) -> dict:
    """Inputs, outputs, states (and the ops reading and writing each), op histogram and conv/linear weight storage
    dtypes of an ML Program spec."""
    operations = _main_operations(spec)
    producers = {out.name: op for op in operations for out in op.outputs}
    weights = Counter(_weight_storage(op, producers) for op in operations if op.type in WEIGHTED_OPS)
    return {
        "inputs": [_feature(f) for f in spec.description.input],
        "outputs": [_feature(f) for f in spec.description.output],
        "states": [_state(f) for f in spec.description.state],
        "state_reads": _state_access(operations, "read_state"),
        "state_writes": _state_access(operations, "write_state"),
        "op_histogram": dict(Counter(op.type for op in operations).most_common()),
        "weight_dtypes": dict(weights),
        "deployment_target": SPECIFICATION_TARGETS.get(spec.specificationVersion, f"spec {spec.specificationVersion}"),
    }


def check_structure(structure: dict, job: ExportJob) -> None:
    """Raise ArtifactError unless the structure matches the job's I/O and precision."""
    expected = [(n, list(t.shape)) for n, t in zip(job.input_names, job.example_inputs)]
    got = [(f["name"], f["shape"]) for f in structure["inputs"]]
    if got != expected:
        raise ArtifactError(f"CoreML inputs are {got}, expected {expected}")
    names = [f["name"] for f in structure["outputs"]]
    if names != job.output_names:
        raise ArtifactError(f"CoreML outputs are {names}, expected {job.output_names}")
    with torch.no_grad():
        shapes = [list(t.shape) for t in job.module(*job.example_inputs)]
    for feature, shape in zip(structure["outputs"], shapes):
        if feature["shape"] != shape:
            raise ArtifactError(f"CoreML output {feature['name']!r} has shape {feature['shape']}, expected {shape}")
    not_float = [f["name"] for f in structure["inputs"] + structure["outputs"] if f["dtype"] != "fp32"]
    if not_float:
        raise ArtifactError(f"CoreML tensor {not_float[0]!r} is not float32")
    check_states(structure, job)
    want = WEIGHT_DTYPES[job.precision]
    wrong = {dtype: n for dtype, n in structure["weight_dtypes"].items() if dtype != want}
    if not structure["weight_dtypes"] or wrong:
        raise ArtifactError(f"CoreML {job.precision} model should store conv/linear weights as {want}, "
                            f"found {structure['weight_dtypes']}")
    if job.precision == "int8" and "quantize" not in structure["op_histogram"]:
        raise ArtifactError("CoreML int8 model has no activation quantize ops (weights only)")


def check_states(structure: dict, job: ExportJob) -> None:
    """A model that keeps its states inside declares each state (name, shape, fp16) and reads and writes each once;
    any other declares none."""
    expected = [(spec.name, list(spec.shape)) for spec in job.states] if job.options.state == "internal" else []
    got = [(f["name"], f["shape"]) for f in structure["states"]]
    if got != expected:
        raise ArtifactError(f"CoreML states are {got}, expected {expected}")
    not_fp16 = [f["name"] for f in structure["states"] if f["dtype"] != "fp16"]
    if not_fp16:
        raise ArtifactError(f"CoreML state {not_fp16[0]!r} is not fp16")
    for name, _ in expected:
        reads, writes = structure["state_reads"].get(name, 0), structure["state_writes"].get(name, 0)
        if (reads, writes) != (1, 1):
            raise ArtifactError(f"CoreML state {name!r} is read {reads} and written {writes} times; a stream reads "
                                "the previous frame's once and writes this frame's once")
    if expected and structure["deployment_target"] != STATEFUL_DEPLOYMENT_TARGET:
        raise ArtifactError(f"a CoreML model with states targets {STATEFUL_DEPLOYMENT_TARGET}, this one "
                            f"{structure['deployment_target']}")


def verify_structure(path: Path, job: ExportJob) -> dict:
    import coremltools as ct

    try:
        spec = ct.utils.load_spec(str(path))
    except Exception as exc:  # a missing or corrupt package raises several types
        raise ArtifactError(f"{path}: not a readable CoreML model ({type(exc).__name__}: {exc})") from exc
    structure = describe(spec)
    check_structure(structure, job)
    return structure


# ---- the converter ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CoreMLOptions(ConverterOptions):
    shift_form: str = "training"  # not timed yet: prediction needs macOS (converters/base.py)
    state: str = "explicit"

    CHOICES = {**ConverterOptions.CHOICES, "state": STATE_LOCATIONS}


@register
class CoreMLConverter(Converter):
    name = "coreml"
    suffix = ".mlpackage"
    precisions = ("fp32", "fp16", "int8", "int8w")
    options_type = CoreMLOptions
    requires = ("coremltools",)

    def runs_here(self, options: CoreMLOptions) -> bool:
        return sys.platform == "darwin"

    def convert(self, job: ExportJob, path: Path) -> Conversion:
        reference = quantize_w8a8(job) if job.precision == "int8" else None
        module = job.module if reference is None else reference
        internal = job.options.state == "internal"
        if internal:
            reset_states(module)  # calibration streamed frames through the buffers; the model's states start at zero
        mlmodel = convert_mlprogram(export_program(module, job.example_inputs), job, job.precision)
        if job.precision == "int8w":
            mlmodel = quantize_weights_int8(mlmodel)
        mlmodel.save(str(path))
        # coremltools writes an ExecuTorch debug map (~300 KB, one entry per op keyed "null") into
        # every package converted from torch.export; no CoreML runtime reads it.
        (Path(path) / "executorch_debug_handle_mapping.json").unlink(missing_ok=True)
        fields = {"structure": describe(mlmodel.get_spec()),
                  "compute_precision": COMPUTE_PRECISIONS[job.precision].lower()}
        if internal:
            fields["states"] = [{**spec.to_dict(), "dtype": STATE_DTYPE} for spec in job.states]
        if job.precision == "int8":
            fields["quantization"] = {"tool": "executorch CoreMLQuantizer + torchao pt2e", "weights": "int8 per-channel",
                                      "activations": "uint8 symmetric", "calibration_samples": len(job.calibration)}
        elif job.precision == "int8w":
            fields["quantization"] = {"tool": "coremltools linear_quantize_weights", "weights": "int8 per-channel",
                                      "activations": "fp16"}
        return Conversion(fields, quantized_reference=reference)

    def verify_structure(self, path: Path, job: ExportJob) -> dict:
        return verify_structure(path, job)


# ---- the ExecuTorch CoreML delegate -------------------------------------------------------------

def coreml_partitioner(precision: str):
    """A CoreMLPartitioner lowering to an iOS 17 ML Program with this module's settings per precision.

    int8 expects a graph already quantized with `quantize_w8a8`'s scheme (iOS 17 carries its
    quantize/dequantize ops); int8w asks the backend to quantize weights after conversion.
    """
    import coremltools as ct
    from executorch.backends.apple.coreml.compiler import CoreMLBackend
    from executorch.backends.apple.coreml.partition import CoreMLPartitioner

    if precision not in WEIGHT_DTYPES:
        raise ExportError(f"coreml has no {precision} export; it offers {', '.join(WEIGHT_DTYPES)}")
    weight_config = {"mode": "linear_symmetric", "dtype": "int8"} if precision == "int8w" else None
    specs = CoreMLBackend.generate_compile_specs(
        minimum_deployment_target=getattr(ct.target, DEPLOYMENT_TARGET),
        compute_precision=getattr(ct.precision, COMPUTE_PRECISIONS[precision]),
        model_type=CoreMLBackend.MODEL_TYPE.MODEL,
        op_linear_quantizer_config=weight_config,
    )
    return CoreMLPartitioner(compile_specs=specs)
