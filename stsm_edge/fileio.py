"""Writes that never leave a half-written file: write beside the target, then rename over it."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from stsm_edge.errors import InputError


def ensure_writable_dir(directory: Path) -> Path:
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory {directory}: {exc.strerror}") from exc
    if not os.access(directory, os.W_OK | os.X_OK):
        raise InputError(f"output directory {directory} is not writable")
    return directory


@contextmanager
def atomic_output(target: Path) -> Iterator[Path]:
    """Yield a temp path next to `target` (file or directory); move it to `target` only on success.

    Files the writer puts beside the temp path (an ONNX model's external data, say) move with it, the
    main output last, so a reader never finds the main file without its companions.
    """
    target = Path(target)
    ensure_writable_dir(target.parent)
    workdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    tmp = workdir / target.name
    try:
        yield tmp
        for companion in workdir.iterdir():
            if companion.name != target.name:
                _replace(companion, target.parent / companion.name)
        _replace(tmp, target)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _replace(source: Path, destination: Path) -> None:
    if destination.is_dir() and not destination.is_symlink():
        shutil.rmtree(destination)
    os.replace(source, destination)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_output(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
