"""Annotation lists in the two formats TSM and MMAction2 use, and label-name files.

A list line is `path label` or `path num_frames label`, whitespace separated (so paths cannot hold
spaces, as in both projects); the path is a video file or a folder of frames. Videos are not opened
here: a list of thousands of clips should parse instantly, and a bad clip is reported when it is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stsm_edge.errors import InputError


@dataclass(frozen=True)
class VideoRecord:
    path: Path
    label: int
    num_frames: int | None = None  # as the list states it; None = count the frames when reading


def _read_lines(path: Path, what: str) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {what}")
    return path.read_text(encoding="utf-8").splitlines()


def _parse_line(line: str) -> tuple[str, int | None, int]:
    """(path, num_frames, label) of one list line; ValueError says what is wrong."""
    fields = line.split()
    if len(fields) not in (2, 3):
        raise ValueError(f"expected 'path label' or 'path num_frames label', got {len(fields)} fields")
    num_frames = None
    if len(fields) == 3:
        try:
            num_frames = int(fields[1])
        except ValueError:
            raise ValueError("num_frames is not an integer") from None
        if num_frames < 1:
            raise ValueError("num_frames must be >= 1")
    try:
        label = int(fields[-1])
    except ValueError:
        raise ValueError("label is not an integer") from None
    if label < 0:
        raise ValueError("label must be >= 0")
    return fields[0], num_frames, label


def read_annotations(list_path: Path, root: Path | None = None) -> list[VideoRecord]:
    """Records of a list file; relative paths resolve against `root`, else the list file's folder."""
    list_path = Path(list_path)
    base = Path(root) if root is not None else list_path.parent
    records = []
    for line_no, line in enumerate(_read_lines(list_path, "annotation list"), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            path, num_frames, label = _parse_line(line)
        except ValueError as exc:
            raise InputError(f"{list_path}:{line_no}: {exc}: {line!r}") from None
        records.append(VideoRecord(base / path, label, num_frames))  # `/` keeps absolute paths as they are
    if not records:
        raise InputError(f"{list_path}: no videos listed")
    return records


def read_labels(path: Path) -> list[str]:
    """Class names, one per non-empty line; line order is the class index."""
    labels = [line.strip() for line in _read_lines(path, "label file") if line.strip()]
    if not labels:
        raise InputError(f"{path}: no labels listed")
    return labels
