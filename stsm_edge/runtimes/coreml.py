"""CoreML adapter: `coremltools.models.MLModel(...).predict`, fed and read by the sidecar's names.

Prediction needs Apple's CoreML framework, so this adapter only runs on macOS; elsewhere opening an
artifact raises TargetUnavailable in one line (the converter checks such artifacts structurally).
Every CoreML export keeps float32 inputs and outputs, so no I/O quantization is applied here.

A stream that keeps its states inside (sidecar `state` "internal", an iOS 18 stateful model) is run with a
state object from `MLModel.make_state()`, passed to every `predict`; `reset` makes a fresh one (zeros), the
start of a new stream, as an app does with `MLModel.makeState()`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stsm_edge.errors import ArtifactError, TargetUnavailable
from stsm_edge.runtimes.base import Runtime, register_runtime


@register_runtime
class CoreMLRuntime(Runtime):
    format = "coreml"
    suffixes = (".mlpackage",)

    def __init__(self, path: Path, sidecar: dict, threads: int | None = None) -> None:
        super().__init__(path, sidecar, threads)
        if sys.platform != "darwin":
            raise TargetUnavailable(f"CoreML prediction needs macOS; this is {sys.platform} "
                                    f"(check {self.path.name} structurally, or run it on a Mac or iPhone)")
        import coremltools as ct

        try:
            # CPU and GPU/Neural Engine all allowed: what an app would get by default.
            self._model = ct.models.MLModel(str(self.path), compute_units=ct.ComputeUnit.ALL)
        except Exception as exc:  # coremltools raises several types for unreadable packages
            raise ArtifactError(f"{self.path}: CoreML cannot load it ({exc})") from exc
        description = self._model.get_spec().description
        have = {f.name for f in description.input} | {f.name for f in description.output}
        missing = [n for n in self.input_names + self.output_names if n not in have]
        if missing:
            raise ArtifactError(f"{self.path}: the sidecar names tensor {missing[0]!r}, which the model lacks")
        self._state = self._model.make_state() if self.keeps_state_inside else None

    def reset(self) -> None:
        if self.keeps_state_inside:
            self._state = self._model.make_state()

    def _run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        feed = {name: np.asarray(array, dtype=np.float32) for name, array in zip(self.input_names, inputs)}
        outputs = self._model.predict(feed) if self._state is None else self._model.predict(feed, state=self._state)
        return [np.asarray(outputs[name], dtype=np.float32) for name in self.output_names]
