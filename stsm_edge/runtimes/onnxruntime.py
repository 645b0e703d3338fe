"""ONNX Runtime adapter: a CPU InferenceSession fed and read by the sidecar's tensor names."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from stsm_edge.errors import ArtifactError
from stsm_edge.runtimes.base import Runtime, register_runtime


@register_runtime
class OnnxRuntime(Runtime):
    format = "onnx"
    suffixes = (".onnx",)

    def __init__(self, path: Path, sidecar: dict, threads: int | None = None) -> None:
        super().__init__(path, sidecar, threads)
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        # A stream calls the session once per time step and idles between calls. Spinning workers would hold the
        # cores after each call, from the app and from any other session in the process (interleaved benchmark
        # comparisons at 2 threads ranged x0.7-x3.4 with spinning, x1.19-x1.28 without).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types; report one line
            raise ArtifactError(f"{self.path}: ONNX Runtime cannot load it ({exc})") from exc
        have_inputs = {i.name for i in self._session.get_inputs()}
        have_outputs = {o.name for o in self._session.get_outputs()}
        missing = [n for n in self.input_names if n not in have_inputs]
        missing += [n for n in self.output_names if n not in have_outputs]
        if missing:
            raise ArtifactError(f"{self.path}: the sidecar names tensor {missing[0]!r}, which the model lacks")

    def _run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        feed = {name: self._to_artifact(name, array) for name, array in zip(self.input_names, inputs)}
        outputs = self._session.run(self.output_names, feed)
        return [self._from_artifact(name, array) for name, array in zip(self.output_names, outputs)]

    def model_call(self, inputs: Sequence[np.ndarray]):
        feed = {name: self._to_artifact(name, array) for name, array in zip(self.input_names, inputs)}
        return lambda: self._session.run(self.output_names, feed)
