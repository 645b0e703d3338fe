"""LiteRT (TFLite) adapter: the interpreter's signature runner, fed and read by tensor name.

Names come from the sidecar, so input order never depends on how the flatbuffer happened to order its
tensors (litert-torch sorts them). int8 artifacts get their inputs quantized and outputs dequantized
with the sidecar's scale/zero-point, so callers exchange float32; a stream's states that the sidecar
carries as int8 (shared quantization) stay int8 from one step to the next.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from stsm_edge.errors import ArtifactError
from stsm_edge.runtimes.base import Runtime, register_runtime

DEFAULT_SIGNATURE = "serving_default"


@register_runtime
class LiteRTRuntime(Runtime):
    format = "tflite"
    suffixes = (".tflite",)

    def __init__(self, path: Path, sidecar: dict, threads: int | None = None) -> None:
        super().__init__(path, sidecar, threads)
        from ai_edge_litert.interpreter import Interpreter

        try:
            interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
        except ValueError as exc:
            raise ArtifactError(f"{self.path}: LiteRT cannot load it ({exc})") from exc
        signature = sidecar.get("signature", DEFAULT_SIGNATURE)
        signatures = interpreter.get_signature_list()
        if signature not in signatures:
            raise ArtifactError(f"{self.path}: no signature {signature!r} (has {', '.join(signatures) or 'none'})")
        missing = [n for n in self.input_names if n not in signatures[signature]["inputs"]]
        missing += [n for n in self.output_names if n not in signatures[signature]["outputs"]]
        if missing:
            raise ArtifactError(f"{self.path}: the sidecar names tensor {missing[0]!r}, which the model lacks")
        self._runner = interpreter.get_signature_runner(signature)

    def _run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        feed = {name: self._to_artifact(name, array) for name, array in zip(self.input_names, inputs)}
        outputs = self._runner(**feed)
        return [self._from_artifact(name, outputs[name]) for name in self.output_names]

    def model_call(self, inputs: Sequence[np.ndarray]):
        feed = {name: self._to_artifact(name, array) for name, array in zip(self.input_names, inputs)}
        return lambda: self._runner(**feed)
