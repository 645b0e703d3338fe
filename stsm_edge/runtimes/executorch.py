"""ExecuTorch adapter: a .pte program run through the `executorch.runtime` Python bindings.

These bindings include the XNNPACK backend, so the adapter runs exactly what a phone's XNNPACK
delegate runs. Threads: the bindings expose only one process-wide XNNPACK thread pool
(`_unsafe_reset_threadpool`), so `threads` resizes that pool for every program in the process.
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
        from executorch.runtime import Runtime as EtRuntime

        self._torch = torch
        if threads:
            from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

            _unsafe_reset_threadpool(int(threads))
        try:
            program = EtRuntime.get().load_program(self.path)
            self._method = program.load_method("forward")
        except Exception as exc:  # the bindings raise RuntimeError/ValueError with an error code
            raise ArtifactError(f"{self.path}: ExecuTorch cannot load it ({exc})") from exc
        if self._method is None:
            raise ArtifactError(f"{self.path}: the program has no 'forward' method")
        meta = self._method.metadata
        if (meta.num_inputs(), meta.num_outputs()) != (len(self.input_names), len(self.output_names)):
            raise ArtifactError(
                f"{self.path}: the program takes {meta.num_inputs()} inputs and gives {meta.num_outputs()} outputs, "
                f"but the sidecar lists {len(self.input_names)} and {len(self.output_names)}")

    def _run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        tensors = [self._torch.from_numpy(np.ascontiguousarray(quantize(np.asarray(a), self.quantization(n))))
                   for n, a in zip(self.input_names, inputs)]
        outputs = self._method.execute(tensors)
        return [dequantize(t.numpy(), self.quantization(n)) for n, t in zip(self.output_names, outputs)]
