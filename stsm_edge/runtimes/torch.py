"""Eager PyTorch adapter: an stsm-edge checkpoint (or an in-memory model) run as its deploy variant would be.

A causal model runs in the streaming form, a bidirectional one in the clip form, so the runner treats
eager models and exported artifacts alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from stsm_edge.checkpoints import ModelBundle, load_model
from stsm_edge.forms import build_form, form_sidecar
from stsm_edge.models.tsn import TemporalSegmentNetwork
from stsm_edge.runtimes.base import Runtime, register_runtime
from stsm_edge.sidecar import stamped, validate_sidecar


def natural_form(model: TemporalSegmentNetwork) -> str:
    return "stream" if model.config.causal or "T" not in model.config.dims else "clip"


@register_runtime
class TorchRuntime(Runtime):
    format = "torch"
    suffixes = (".pt", ".pth")

    def __init__(self, path: Path, sidecar: dict | None = None, threads: int | None = None,
                 bundle: ModelBundle | None = None, form: str | None = None, accelerator=None) -> None:
        """`accelerator` (fit.device.Accelerator, or anything with its prepare/batch/autocast) runs the model on a
        device, under autocast; None: the CPU in fp32. Outputs always come back as float32 numpy arrays."""
        bundle = bundle or load_model(Path(path))
        form = form or natural_form(bundle.model)
        spec = build_form(bundle.model.eval(), form, *bundle.preprocess.size)
        sidecar = form_sidecar(bundle.model, spec, form, bundle.labels, bundle.preprocess, artifact=str(path),
                               target="torch", precision="fp32",
                               time_step=bundle.time_step.to_dict() if bundle.time_step else None)
        # Checked as every other runtime's sidecar is when read, so a bundle that contradicts itself stops here.
        sidecar = validate_sidecar(stamped(sidecar), f"{path} (its sidecar, made from the checkpoint)")
        super().__init__(Path(str(path)), sidecar, threads)
        self._module = spec.module if accelerator is None else accelerator.prepare(spec.module)
        self._accelerator = accelerator
        if threads:
            torch.set_num_threads(int(threads))

    def _run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        tensors = [torch.from_numpy(np.ascontiguousarray(a)) for a in inputs]
        if self._accelerator is None:
            with torch.no_grad():
                return [t.numpy() for t in self._module(*tensors)]
        with torch.no_grad(), self._accelerator.autocast():
            outputs = self._module(*(self._accelerator.batch(t) for t in tensors))
        return [t.float().cpu().numpy() for t in outputs]
