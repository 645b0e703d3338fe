"""Writes that never leave a half-written file: write beside the target, then rename over it."""

from __future__ import annotations

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
    """Yield a temp path next to `target` (file or directory); rename it to `target` only on success."""
    target = Path(target)
    ensure_writable_dir(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent)) / target.name
    try:
        yield tmp
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp.parent, ignore_errors=True)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_output(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode())
