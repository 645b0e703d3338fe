"""ExecuTorch adapter: a .pte program run through the `executorch.runtime` Python bindings.

These bindings include the XNNPACK backend, so the adapter runs exactly what a phone's XNNPACK
delegate runs. Threads: the bindings expose only one process-wide XNNPACK thread pool
(`_unsafe_reset_threadpool`), so `threads` resizes that pool for every program in the process.

A program that keeps its streaming states inside (sidecar `state` "internal") holds them in mutable
buffers that loading its method sets to zeros; `reset` loads the method again, as an Android app
reloads its `Module` (see stsm_edge/converters/executorch.py for why that is the reset both can do).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from stsm_edge.errors import ArtifactError
from stsm_edge.runtimes.base import Runtime, dequantize, quantize, register_runtime


@register_runtime
class ExecuTorchRuntime(Runtime):
    format = "executorch"
    suffixes = (".pte",)

    def __init__(self, path: Path, sidecar: dict, threads: int | None = None) -> None:
        super().__init__(path, sidecar, threads)
        import torch  # the bindings take and return torch tensors

        self._torch = torch
        if threads:
            from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

            _unsafe_reset_threadpool(int(threads))
        self._method = self._load_forward()
        self._fresh = True  # no frame has run since the method was loaded: its states are zeros
        meta = self._method.metadata
        if (meta.num_inputs(), meta.num_outputs()) != (len(self.input_names), len(self.output_names)):
            raise ArtifactError(
                f"{self.path}: the program takes {meta.num_inputs()} inputs and gives {meta.num_outputs()} outputs, "
                f"but the sidecar lists {len(self.input_names)} and {len(self.output_names)}")

    def _load_forward(self):
        """The program's `forward` method, freshly loaded (its own memory, internal states at zero)."""
        from executorch.runtime import Runtime as EtRuntime

        try:
            method = EtRuntime.get().load_program(self.path).load_method("forward")
        except Exception as exc:  # the bindings raise RuntimeError/ValueError with an error code
            raise ArtifactError(f"{self.path}: ExecuTorch cannot load it ({exc})") from exc
        if method is None:
            raise ArtifactError(f"{self.path}: the program has no 'forward' method")
        return method

    def reset(self) -> None:
        if self.keeps_state_inside and not self._fresh:
            self._method = self._load_forward()
            self._fresh = True

    def _run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        tensors = [self._torch.from_numpy(np.ascontiguousarray(quantize(np.asarray(a), self.quantization(n))))
                   for n, a in zip(self.input_names, inputs)]
        outputs = self._method.execute(tensors)
        self._fresh = False
        return [dequantize(t.numpy(), self.quantization(n)) for n, t in zip(self.output_names, outputs)]
