"""ExecuTorch target: torch.export -> edge dialect -> one backend delegate -> a .pte program.

fp32 lowers the exported graph to XNNPACK. int8 is PT2E static quantization: XNNPACK's quantizer
(symmetric, per-channel weights) annotates the exported graph, the job's calibration tuples run through
it, and the quantize/dequantize graph lowers to XNNPACK, which fuses them into int8 kernels. Inputs and
outputs stay float32. As in the TFLite and ONNX converters, the int8 weights are pre-rounded with bias
correction (converters/quantization.py) and the first `float_leading_convs` convolutions stay float; the
classifier is dynamically quantized (the `classifier` option), so the logits are float. Each of the three
steps raised top-1 agreement with fp32 over XNNPACK's plain recipe when measured on the ImageNet-weight
model; keeping only the classifier float did not.

What this costs in speed was measured per XNNPACK operator (benchmarks/int8_speed.py, its notes in
benchmarks/results/int8_speed_notes.md): the float stem and block-1 convs are about 17% of the int8
program's time, yet making them int8 (`float_leading_convs=0`) saves only about 1%, and a statically
quantized classifier (`classifier="static"`) another 0.3%. On x86, XNNPACK's int8 depthwise conv is no
faster than its fp32 one, and an int8 frame is laid out channels-last as bytes, more slowly than as floats;
the depthwise convs, not the float edges, hold int8 near half of fp32's time. The default keeps the edges
float for their accuracy; the other recipes stay reachable through the two options.

The `delegate` option "coreml" lowers to the CoreML delegate instead (fp32 compute, or int8 with an
iOS 17 deployment target). Such a program only runs on Apple devices, so it is checked structurally here.

The `state` option "internal" keeps the stream's states in mutable buffers (stsm_edge.streaming.
InternalStateModel): the program takes the frame and returns the logits. The buffers are serialized as
zeros (`InitializedMutableBufferPass`; by default ExecuTorch leaves a mutated buffer's first value
undefined), so loading the program's method starts a stream, and loading it again resets one: the one
reset that works alike in the Python bindings and Android's `org.pytorch.executorch.Module`, which has no
unload and gives each method its own memory arenas (a separate `reset` method with
`share_mutable_buffers` would zero its own copy of the state there, not `forward`'s). XNNPACK runs the
whole model; the write-back of each new state into its buffer is one `copy_` per state after the delegate
call, outside it (the delegation report lists them).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from pathlib import Path

from stsm_edge.converters.base import (
    Conversion,
    Converter,
    ExportJob,
    Int8Options,
    calibrate,
    register,
)
from stsm_edge.converters.quantization import bias_corrected_module

from stsm_edge.architectures import STATE_LOCATIONS
from stsm_edge.errors import ArtifactError, ExportError, OptionError
from stsm_edge.streaming import STATE_PREFIX, reset_states

DELEGATES = ("xnnpack", "coreml")
# Graph nodes that move no data: tuple indexing of a delegate's outputs.
_BOOKKEEPING = (operator.getitem,)


# How the int8 recipe quantizes the classifier (the Linear that makes the logits): "dynamic", int8
# weights with activations quantized per call and float logits; "static", int8 weights and activations with
# the logits requantized to the calibration range (a scene brighter than the calibration clips can saturate
# the top classes); "float", left float. Dynamic costs about 1% of the int8 program's time (module docstring).
CLASSIFIER_QUANTIZATION = ("dynamic", "static", "float")
CLASSIFIER_NOTES = {"dynamic": "dynamically quantized (int8 weights); logits output float",
                    "static": "statically quantized (int8 weights and activations); logits dequantized",
                    "float": "float; logits output float"}


@dataclass(frozen=True)
class ExecuTorchOptions(Int8Options):
    delegate: str = "xnnpack"
    classifier: str = "dynamic"
    state: str = "explicit"

    CHOICES = {**Int8Options.CHOICES, "delegate": DELEGATES, "classifier": CLASSIFIER_QUANTIZATION,
               "state": STATE_LOCATIONS}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.state == "internal" and self.delegate != "xnnpack":
            raise OptionError(f"executorch state=internal needs the xnnpack delegate, not {self.delegate}")


def export_graph(module, job: ExportJob):
    import torch

    try:
        return torch.export.export(module, job.example_inputs, strict=False)
    except Exception as exc:  # torch.export raises many unrelated types; report one line
        raise ExportError(f"torch.export could not capture the {job.form} model: {type(exc).__name__}: {exc}") from exc


def _float_edges_quantizer(leading: int, classifier: str = "dynamic"):
    """XNNPACK's quantizer with the graph's two sensitive ends taken out of static int8.

    Everything up to the `leading`-th convolution keeps float (its annotations are dropped, so no
    observer is placed there), and the classifier is dynamically quantized: int8 weights, activations
    quantized per call, float logits. With int8 logits a scene brighter than the calibration clips
    saturates the top classes; the stem sees the raw image. XNNPACK runs both inside the one delegate.
    """
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )

    class FloatEdgesQuantizer(XNNPACKQuantizer):
        def annotate(self, model):
            model = super().annotate(model)
            convs = [n for n in model.graph.nodes if n.target == torch.ops.aten.conv2d.default]
            if leading:
                # Up to the next conv, not only the last float one: its activation shares the conv's
                # quantization spec, and the next conv's own input annotation is where int8 begins.
                first_int8 = convs[leading] if leading < len(convs) else None
                for node in model.graph.nodes:  # graph order is execution order
                    if node is first_int8:
                        break
                    node.meta.pop("quantization_annotation", None)
            return model

    quantizer = FloatEdgesQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    if classifier == "static":
        return quantizer
    return quantizer.set_module_type(torch.nn.Linear, None if classifier == "float" else
                                     get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True))


def quantize_int8(job: ExportJob):
    """PT2E: bias-corrected int8-grid weights, annotate for XNNPACK, calibrate, fold observers into q/dq."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    options = job.options
    # Bias correction ran the calibration frames through any internal states: calibrate from zeros again, as the
    # explicit feed does (histogram observers depend on what they see first).
    module = reset_states(bias_corrected_module(job, linear=options.classifier != "float"))
    quantizer = _float_edges_quantizer(options.float_leading_convs, options.classifier)
    prepared = prepare_pt2e(export_graph(module, job).module(), quantizer)
    calibrate(prepared, job)
    return convert_pt2e(prepared)


def partitioner(delegate: str, precision: str):
    if delegate == "xnnpack":
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        return XnnpackPartitioner()
    try:
        import coremltools as ct
        from executorch.backends.apple.coreml.compiler import CoreMLBackend
        from executorch.backends.apple.coreml.partition import CoreMLPartitioner
    except ImportError as exc:
        raise ExportError(f"the CoreML delegate needs coremltools and executorch's CoreML backend: {exc}") from exc
    # int8 q/dq ops need iOS 17's quantization ops; fp32 must not be silently cast to fp16.
    specs = CoreMLBackend.generate_compile_specs(
        minimum_deployment_target=ct.target.iOS17,
        compute_precision=ct.precision.FLOAT32 if precision == "fp32" else ct.precision.FLOAT16)
    return CoreMLPartitioner(compile_specs=specs)


def delegation_report(graph_module, delegate: str) -> dict:
    """Counts of compute nodes inside and outside the delegate, and which ops stayed outside, in the program as
    it runs (so a mutable buffer's write-back, added after lowering, counts as outside)."""
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(graph_module)
    outside = [getattr(node.target, "__name__", str(node.target)) for node in graph_module.graph.nodes
               if node.op == "call_function" and node.target not in _BOOKKEEPING
               and "executorch_call_delegate" not in str(node.target)]
    return {"backend": delegate, "subgraphs": info.num_delegated_subgraphs,
            "delegated_nodes": info.num_delegated_nodes, "non_delegated_compute_nodes": len(outside),
            "non_delegated_ops": sorted(set(outside))}


def lower(exported, delegate: str, precision: str, state: str):
    """The program: lowered to one delegate, then to ExecuTorch's executable form (with the write-back of any
    mutable buffer, and internal states serialized as zeros)."""
    import torch
    from executorch.exir import ExecutorchBackendConfig, to_edge_transform_and_lower
    from executorch.exir.passes.init_mutable_pass import InitializedMutableBufferPass

    passes = [InitializedMutableBufferPass([STATE_PREFIX])] if state == "internal" else []
    try:
        edge = to_edge_transform_and_lower(exported, partitioner=[partitioner(delegate, precision)])
        with torch.no_grad():  # the write-back copy_ runs once on the weights' example values, which need no grad
            return edge.to_executorch(ExecutorchBackendConfig(passes=passes))
    except ExportError:
        raise
    except Exception as exc:  # lowering failures come from deep inside the backends; report one line
        raise ExportError(f"ExecuTorch could not lower the {precision} model to {delegate}: "
                          f"{type(exc).__name__}: {exc}") from exc


@register
class ExecuTorchConverter(Converter):
    name = "executorch"
    suffix = ".pte"
    precisions = ("fp32", "int8")
    options_type = ExecuTorchOptions
    requires = ("executorch", "torchao")

    def runs_here(self, options: ExecuTorchOptions) -> bool:
        return options.delegate == "xnnpack"  # an Apple-only program is checked structurally instead

    def convert(self, job: ExportJob, path: Path) -> Conversion:
        delegate = job.options.delegate
        module, reference, fields = job.module, None, {}
        if job.precision == "int8":
            module = reference = quantize_int8(job)
            fields["quantization"] = {"tool": "torchao pt2e + XNNPACKQuantizer", "symmetric": True,
                                      "per_channel": True, "calibration_samples": len(job.calibration),
                                      "float_ops": f"first {job.options.float_leading_convs} convolutions; "
                                                   f"classifier {CLASSIFIER_NOTES[job.options.classifier]}"}
        if job.options.state == "internal":
            reset_states(module)  # calibration streamed frames through the buffers; the program starts at zero
        program = lower(export_graph(module, job), delegate, job.precision, job.options.state)
        fields["delegation"] = delegation_report(program.exported_program().graph_module, delegate)
        Path(path).write_bytes(program.buffer)
        return Conversion(fields, quantized_reference=reference)

    def verify_structure(self, path: Path, job: ExportJob) -> dict:
        from executorch.exir._serialize._program import deserialize_pte_binary

        program = deserialize_pte_binary(Path(path).read_bytes()).program
        backends = sorted({d.id for plan in program.execution_plan for d in plan.delegates})
        if backends != ["CoreMLBackend"]:
            raise ArtifactError(f"{path}: expected one CoreML delegate, found backends {backends}")
        return {"backends": backends}
