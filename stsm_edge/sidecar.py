"""The metadata sidecar `<artifact>.json`: the contract between export time and run time.

One versioned schema, read by the Python runner, the Android core and the benchmarks. Everything a
runner needs to use an artifact is here: model config, labels, preprocessing, the model's time step
(optional: null when unknown), I/O names, shapes, dtypes and int8 quantization, state layout,
provenance and parity figures.
"""

from __future__ import annotations

import json
from pathlib import Path

from stsm_edge.errors import ArtifactError
from stsm_edge.fileio import atomic_write_text

SCHEMA = "stsm-edge/artifact"
VERSION = 1
REQUIRED = {
    "schema": str, "version": int, "artifact": str, "target": str, "form": str, "precision": str,
    "model": dict, "labels": list, "preprocess": dict, "inputs": list, "outputs": list, "states": list,
}
TENSOR_KEYS = ("name", "shape", "dtype")


def sidecar_path(artifact: Path) -> Path:
    """`<artifact file name>.json`: m.pte -> m.pte.json, so one model's .pte, .tflite, .onnx and .mlpackage
    can sit in one folder, each with its own sidecar."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def validate_sidecar(data: dict, source: str = "sidecar") -> dict:
    """Raise ArtifactError naming the first problem; return the data unchanged."""
    if not isinstance(data, dict):
        raise ArtifactError(f"{source}: not a JSON object")
    for key, kind in REQUIRED.items():
        if key not in data:
            raise ArtifactError(f"{source}: missing key {key!r}")
        if not isinstance(data[key], kind):
            raise ArtifactError(f"{source}: {key!r} must be a {kind.__name__}")
    if data["schema"] != SCHEMA:
        raise ArtifactError(f"{source}: schema {data['schema']!r} is not {SCHEMA!r}")
    if data["version"] > VERSION:
        raise ArtifactError(f"{source}: schema version {data['version']} is newer than this stsm-edge reads ({VERSION})")
    if data["form"] not in ("clip", "stream"):
        raise ArtifactError(f"{source}: form must be 'clip' or 'stream', got {data['form']!r}")
    for group in ("inputs", "outputs", "states"):
        for spec in data[group]:
            missing = [key for key in TENSOR_KEYS if key not in spec]
            if missing:
                raise ArtifactError(f"{source}: an entry of {group!r} lacks {missing[0]!r}")
    time_step = data.get("time_step")
    if time_step is not None and not (isinstance(time_step, dict) and isinstance(time_step.get("seconds"), (int, float))
                                      and time_step["seconds"] > 0):
        raise ArtifactError(f"{source}: 'time_step' must be null or an object with 'seconds' > 0")
    if len(data["labels"]) != data["model"].get("num_classes"):
        raise ArtifactError(f"{source}: {len(data['labels'])} labels for {data['model'].get('num_classes')} classes")
    return data


def write_sidecar(artifact: Path, data: dict) -> Path:
    data = {"schema": SCHEMA, "version": VERSION, **data}
    validate_sidecar(data, str(sidecar_path(artifact)))
    path = sidecar_path(artifact)
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    return path


def read_sidecar(artifact: Path) -> dict:
    path = sidecar_path(artifact)
    if not path.exists():
        raise ArtifactError(f"{artifact}: its metadata sidecar {path.name} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ArtifactError(f"{path}: not a text file (a sidecar is UTF-8 JSON)") from exc
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    return validate_sidecar(data, str(path))
