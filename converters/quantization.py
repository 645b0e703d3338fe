"""Quantization helpers shared by the converters that quantize a float artifact after export."""

from __future__ import annotations

import copy

import torch
from torch import nn

from stsm_edge.errors import CalibrationError

# Convolutions, in execution order, that the ExecuTorch, ONNX and TFLite int8 recipes leave float. MobileNetV2: the stem conv and
# the first block's depthwise and projection convs, whose inputs (the image, then 32 wide activations)
# lose the most to 8 bits; a small share of the MACs. The `float_leading_convs` option overrides it.
# Speed: on ExecuTorch/XNNPACK (x86) they are ~17% of the int8 stream's operator time, but 0 instead of 3
# saved only ~1% of it (int8 depthwise and an int8 frame's layout change are no cheaper there; measured in
# benchmarks/results/int8_speed_notes.md), so all three targets keep 3 for accuracy.
FLOAT_LEADING_CONVS = 3


def bias_corrected_module(job, linear: bool = True) -> nn.Module:
    """The job's module with int8-grid weights and bias correction, its leading convs left float."""
    if not job.calibration:
        raise CalibrationError(f"{job.name}: int8 needs calibration inputs, and the job has none")
    return prequantize_weights(job.module, job.calibration, job.options.float_leading_convs, linear=linear)


def prequantize_weights(module: nn.Module, calibration: list, leading: int, linear: bool = True,
                        samples: int = 32) -> nn.Module:
    """A copy of `module` whose conv (and linear) weights already sit on the per-channel int8 grid, with
    the mean error that rounding causes taken back out of the bias (bias correction, Nagel et al. 2019).

    A quantizer that rounds per output channel to max|w|/127 (ai-edge-quantizer, ONNX Runtime) keeps
    these weights exactly, BatchNorm folding included (it scales whole output channels), so the only
    change it sees is the corrected bias, which measurably brought int8-weight logits closer to fp32.
    Each layer's correction is (W_q - W) applied to the mean of its input over the calibration feed,
    added to the following BatchNorm's running mean (or subtracted from the layer's own bias).
    """
    module = copy.deepcopy(module).eval()
    named = list(module.named_modules())
    layers = [(i, m) for i, (_, m) in enumerate(named) if isinstance(m, nn.Conv2d) or (linear and isinstance(m, nn.Linear))]
    means: dict[int, list] = {}

    def record(index):
        def hook(layer, inputs):
            x = inputs[0].detach()
            means.setdefault(index, []).append(x.mean(dim=[d for d in range(x.dim()) if d != 1]))
        return hook

    hooks = [m.register_forward_pre_hook(record(i)) for i, m in layers]
    step = max(1, len(calibration) // samples)
    with torch.no_grad():
        for inputs in calibration[::step]:
            module(*inputs)
    for hook in hooks:
        hook.remove()
    for position, (i, layer) in enumerate(layers):
        if position < leading or i not in means:
            continue
        w = layer.weight.data
        scale = (w.abs().amax(dim=tuple(range(1, w.dim())), keepdim=True) / 127).clamp_min(1e-12)
        quantized = torch.round(w / scale).clamp(-127, 127) * scale
        error, mean = quantized - w, torch.stack(means[i]).mean(0)
        layer.weight.data = quantized
        if isinstance(layer, nn.Linear):
            delta = error @ mean
        elif layer.groups == 1:
            delta = (error.sum(dim=(2, 3)) * mean[None]).sum(1)
        else:  # depthwise / grouped: each output channel sees its own group's inputs
            per_group = error.shape[1]
            delta = (error.sum(dim=(2, 3)) * mean.view(layer.groups, per_group).repeat_interleave(
                layer.out_channels // layer.groups, 0)).sum(1)
        follower = named[i + 1][1] if i + 1 < len(named) else None
        if isinstance(follower, nn.BatchNorm2d) and follower.num_features == delta.numel():
            follower.running_mean.data += delta
        elif layer.bias is not None:
            layer.bias.data -= delta
    return module
