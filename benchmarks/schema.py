"""The results file schema, "stsm-edge/bench-results" version 1: load, validate, write.

The schema itself is `benchmarks/schema.json` (JSON Schema draft 2020-12), checked with `jsonschema`.
A bad file gives ONE line naming the file, the place in it and what is wrong, e.g.
`x.json: results[0]: 'metric' is a required property`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from stsm_edge.errors import StsmEdgeError

SCHEMA_NAME = "stsm-edge/bench-results"
VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("schema.json")


class ResultsError(StsmEdgeError):
    """A results file that does not follow the schema."""


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def _where(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def problems(data) -> list[str]:
    """The most relevant schema violation as a 'place: message' string (empty when the data is valid)."""
    import jsonschema  # here, not at the top: training hosts need not have it

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema()).iter_errors(data))
    return [] if error is None else [f"{_where(list(error.absolute_path))}: {error.message}"]


def validate(data, source: str = "results") -> dict:
    """Raise ResultsError with one line if `data` is not a valid results document; return it otherwise."""
    if not isinstance(data, dict):
        raise ResultsError(f"{source}: a results file is a JSON object, got {type(data).__name__}")
    # The two checks people trip over first get their own plain words.
    if data.get("schema") != SCHEMA_NAME:
        raise ResultsError(f"{source}: schema: expected {SCHEMA_NAME!r}, got {data.get('schema')!r} "
                           "(not an stsm-edge benchmark results file)")
    if data.get("version") != VERSION:
        raise ResultsError(f"{source}: version: this reader knows version {VERSION}, "
                           f"the file says {data.get('version')!r}")
    found = problems(data)
    if found:
        raise ResultsError(f"{source}: {found[0]}")
    return data


def read(path: Path) -> dict:
    """The file's JSON, not yet validated; a missing or unreadable file is one ResultsError line."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such results file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc})") from None


def load(path: Path) -> dict:
    return validate(read(path), str(path))


def write(path: Path, data: dict) -> Path:
    """Validate, then write atomically (a failed run never leaves half a results file)."""
    from stsm_edge.fileio import atomic_write_text

    path = Path(path)
    validate(data, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")
    return path
