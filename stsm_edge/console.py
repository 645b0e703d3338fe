"""What stsm-edge prints: tables, sizes and progress bars, shared by the CLI and the library's jobs."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Sequence, TextIO


def human_bytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table: left-aligned columns, a dashed rule under the headers."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


class Progress:
    """A (done, total) callback drawing a tqdm bar, created on the first update so an early error prints alone."""

    def __init__(self, desc: str, unit: str, quiet: bool = False) -> None:
        self.desc, self.unit, self.quiet, self.bar = desc, unit, quiet, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, disable=self.quiet, file=terminal_err())
        self.bar.update(done - self.bar.n)

    def note(self, text: str) -> None:
        """What the current unit is doing, shown after the bar."""
        if self.bar is not None:
            self.bar.set_postfix_str(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# While tools are routed to a log (see `tools_to_log`): the real terminal's (stdout, stderr).
_terminal: tuple[TextIO, TextIO] | None = None


def say(text: str = "") -> None:
    """One of stsm-edge's own lines, on the terminal's stdout even while other tools' output goes to a log."""
    print(text, file=_terminal[0] if _terminal else sys.stdout, flush=True)


def note(text: str) -> None:
    """A line the user must see whatever the log level (what a loaded file was taken to be), on the terminal's
    stderr, so a command's stdout stays its result."""
    print(text, file=terminal_err(), flush=True)


def terminal_err() -> TextIO:
    return _terminal[1] if _terminal else sys.stderr


class _OwnRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.split(".")[0] == "stsm_edge"


class ToolsToLog:
    """Within: everything that is not stsm-edge's goes to a log file: what C/C++ libraries write to file
    descriptors 1 and 2 (oneDNN, LiteRT), Python-level prints, warnings and progress bars (torchao, coremltools,
    ai-edge-quantizer) and other packages' log records. stsm-edge's own lines (`say`, `Progress`, its logger)
    still reach the terminal.

    The log is written to a temporary file. At the end, if a tool wrote to it, it moves to `path` when that
    folder exists (a refused command creates none) and stays where it is otherwise; `kept` is where it ended
    (None: nothing was written), for an error line to point at."""

    def __init__(self, path: Path) -> None:
        self.path, self.kept = Path(path), None

    def __enter__(self) -> "ToolsToLog":
        global _terminal
        sys.stdout.flush()
        sys.stderr.flush()
        self._outer = _terminal
        # Inside another ToolsToLog, descriptors 1 and 2 are its log: own lines keep going to its terminal.
        self._own_streams = None if _terminal else (os.fdopen(os.dup(1), "w", buffering=1),
                                                    os.fdopen(os.dup(2), "w", buffering=1))
        self._terminal = _terminal or self._own_streams
        self._fds, self._streams = (os.dup(1), os.dup(2)), (sys.stdout, sys.stderr)
        with tempfile.NamedTemporaryFile("w", prefix="stsm-edge-", suffix=".log", delete=False) as log:
            self._temporary = Path(log.name)
        self._log = open(self._temporary, "a", buffering=1)
        own = logging.StreamHandler(self._terminal[1])
        own.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        own.addFilter(_OwnRecords())
        root = logging.getLogger()
        self._handlers = root.handlers[:]
        root.handlers = [own, logging.StreamHandler(self._log)]
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("default")  # each warning once, into the log
        os.dup2(self._log.fileno(), 1)
        os.dup2(self._log.fileno(), 2)
        sys.stdout = sys.stderr = self._log
        _terminal = self._terminal
        return self

    def __exit__(self, *exc) -> None:
        """The terminal first, whatever else fails: a log that cannot be flushed (a full disk) or closed, a terminal
        pipe that was closed (`| head`), an interrupt. Nothing here raises, so the body's own error, if any, is what
        propagates, and the caller's one-line message lands on the terminal."""
        global _terminal
        unwritten = None
        try:
            unwritten = _quietly(self._log.flush)  # a full disk loses the log's tail, not the terminal
        finally:
            os.dup2(self._fds[0], 1)
            os.dup2(self._fds[1], 2)
            sys.stdout, sys.stderr = self._streams
            _terminal = self._outer
            for fd in self._fds:
                os.close(fd)
            logging.getLogger().handlers = self._handlers
            self._warnings.__exit__(*exc)
            _quietly(self._log.close)
            for stream in self._own_streams or ():
                _quietly(stream.close)  # a closed pipe cannot take the last buffered line; the fd closes anyway
            self._place_log()
        if unwritten is not None:
            _quietly(lambda: print(f"WARNING: the tools' log is incomplete: {unwritten.strerror or unwritten}",
                                   file=terminal_err(), flush=True))

    def _place_log(self) -> None:
        if not self._temporary.stat().st_size:  # no tool said anything
            self._temporary.unlink()
        elif self.path.parent.is_dir() and _quietly(lambda: shutil.move(self._temporary, self.path)) is None:
            self.kept = self.path
        else:  # no folder to put it in (a refused command), or no room there: where it was written
            self.kept = self._temporary


def _quietly(action) -> OSError | None:
    """`action()`; an OSError it raises (ENOSPC, EPIPE...) is returned, not raised: only where a failure must not
    stop what follows."""
    try:
        action()
    except OSError as exc:
        return exc
    return None


def setup_logging(verbose: bool) -> None:
    """stsm-edge's warnings as `WARNING: ...`; with `verbose`, debug logs and OpenCV's own warnings too (without
    it, OpenCV repeats in its words what stsm-edge's one-line error says: a missing camera, an unreadable path)."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    if not verbose:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
