"""The metadata sidecar `<artifact>.json`: the contract between export time and run time.

One versioned JSON Schema (resources/artifact.schema.json), read by the Python runner, the Android core and
the benchmarks. Everything a
runner needs to use an artifact is here: model config, labels, preprocessing, the model's time step
(optional: null when unknown), I/O names, shapes, dtypes and int8 quantization, state layout,
provenance and parity figures.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from stsm_edge.errors import ArtifactError
from stsm_edge.fileio import atomic_write_text

SCHEMA = "stsm-edge/artifact"
# 2: states carried as the artifact's integers (a state's dtype and quantization), and each state's layout.
VERSION = 2
SCHEMA_PATH = Path(__file__).parent / "resources" / "artifact.schema.json"  # the Android core follows it too


def sidecar_path(artifact: Path) -> Path:
    """`<artifact file name>.json`: m.pte -> m.pte.json, so one model's .pte, .tflite, .onnx and .mlpackage
    can sit in one folder, each with its own sidecar."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate_sidecar(data: dict, source: str = "sidecar") -> dict:
    """Raise ArtifactError naming the first problem (place in the file, and what); return the data unchanged."""
    import jsonschema  # here, not at the top: training hosts need not have it

    if isinstance(data, dict) and isinstance(data.get("version"), int) and data["version"] > VERSION:
        raise ArtifactError(f"{source}: schema version {data['version']} is newer than this stsm-edge reads "
                            f"({VERSION})")
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema()).iter_errors(data))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        raise ArtifactError(f"{source}: {where + ': ' if where else ''}{_short_message(error)}")
    if len(data["labels"]) != data["model"]["num_classes"]:  # beyond what JSON Schema can say
        raise ArtifactError(f"{source}: {len(data['labels'])} labels for {data['model']['num_classes']} classes")
    _check_carried_states(data, source)
    return data


def _check_carried_states(data: dict, source: str) -> None:
    """A state carried as integers must be quantized exactly as its input and its new_ output are: a runner hands
    the output back untouched, so any difference would silently rescale the memory."""
    if data.get("state", "explicit") != "explicit":
        return
    tensors = {t["name"]: t for t in data["inputs"] + data["outputs"]}
    for state in data["states"]:
        q = state.get("quantization")
        if q is None:
            continue
        for name in (state["name"], "new_" + state["name"]):
            tensor = tensors.get(name)
            if tensor is None or tensor.get("quantization") != q or tensor["dtype"] != state["dtype"]:
                raise ArtifactError(f"{source}: state {state['name']} is carried as {state['dtype']} with scale "
                                    f"{q['scale']:g}, zero point {q['zero_point']}, but {name} is not quantized so")


def _short_message(error) -> str:
    """jsonschema's message, except where it would print a whole list: then the count, and why when the rule
    comes from the sidecar's `state`."""
    if error.validator not in ("maxItems", "minItems"):
        return error.message
    bound = "at most {} allowed" if error.validator == "maxItems" else "at least {} needed"
    why = " (a stream that keeps its states inside: the frame alone in, the logits alone out)" \
        if "then" in error.schema_path else ""
    return f"{len(error.instance)} entries, {bound.format(error.validator_value)}{why}"


def stamped(data: dict) -> dict:
    """A sidecar's fields under this schema's name and version, as every sidecar is written."""
    return {"schema": SCHEMA, "version": VERSION, **data}


def write_sidecar(artifact: Path, data: dict) -> Path:
    data = stamped(data)
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
