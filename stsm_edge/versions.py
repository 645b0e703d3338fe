"""Installed versions of the tools an artifact or a benchmark depends on (recorded for provenance)."""

from __future__ import annotations

import importlib.metadata

TOOL_DISTRIBUTIONS = ("torch", "executorch", "torchao", "coremltools", "litert-torch", "ai-edge-litert",
                      "ai-edge-quantizer", "onnx", "onnxruntime", "numpy")


def package_versions(distributions: tuple[str, ...] = TOOL_DISTRIBUTIONS) -> dict[str, str]:
    """Version of each installed distribution; missing ones are left out."""
    versions = {}
    for dist in distributions:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions
