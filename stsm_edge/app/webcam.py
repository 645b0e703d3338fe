"""The webcam demo: live top-3 with score bars, FPS and ms/frame; q quits, r resets, space pauses.

A camera (or stream URL) is read on its own thread that keeps only the newest frame, so recognition
stays real-time and stale frames are dropped; each frame is stamped with its capture time, and the
runner paces model steps by those stamps. A video file is read frame by frame at its own timestamps (a
file never goes stale), which makes `--headless --record` on a file deterministic; in the window a file
plays at its own speed.

The window is Tk's (tkinter, Python's own GUI toolkit), so the project keeps a single OpenCV wheel, the
headless one: `import cv2` then needs no GUI or GL libraries on a server, and no second OpenCV wheel
fights over the `cv2` package. Tk is imported only when a window is opened; an OpenCV build with
HighGUI is the fallback for a Python without tkinter.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from stsm_edge.app.overlay import annotated_video, draw_prediction
from stsm_edge.errors import InputError
from stsm_edge.runner import FrameBufferRunner
from stsm_edge.video import iter_video_timed, video_info

WINDOW = "stsm-edge"


class LatestFrameReader:
    """Reads a live source on a thread; `frames()` yields the newest (frame, capture time), dropping the ones
    in between."""

    def __init__(self, capture: cv2.VideoCapture) -> None:
        self._capture = capture
        self._frame: tuple[np.ndarray, float] | None = None
        self._fresh = threading.Condition()
        self._running = True
        self.dropped = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while self._running:
                ok, frame = self._capture.read()
                captured = time.monotonic()
                with self._fresh:
                    if not ok:
                        self._running = False
                    elif self._frame is not None:
                        self.dropped += 1
                    self._frame = (frame, captured) if ok else None
                    self._fresh.notify()
        finally:
            # Released here, after the last read returned: releasing from `close` while a read is blocked (a camera
            # that stopped delivering) frees what that read is using.
            self._capture.release()
            with self._fresh:
                self._running = False
                self._fresh.notify()

    def frames(self) -> Iterator[tuple[np.ndarray, float]]:
        while True:
            with self._fresh:
                while self._frame is None and self._running:
                    self._fresh.wait(timeout=1.0)
                frame, self._frame = self._frame, None
            if frame is None:
                return
            yield frame

    def close(self, timeout: float = 5.0) -> bool:
        """Stop reading and wait for the reading thread, which releases the capture once its read returns; True when
        it has. A read blocked past `timeout` keeps the capture until it returns (the thread is a daemon: it does not
        hold the process)."""
        self._running = False
        self._thread.join(timeout)
        return not self._thread.is_alive()


class TimedWriter:
    """Writes frames to a video of fixed `fps` at the times they came: each frame fills the output slots up to its
    timestamp, so a camera that delivers fewer frames than its nominal rate (or a reader that dropped stale ones)
    records a video that plays at the real speed, its frames held, and a faster one has frames left out."""

    def __init__(self, write: Callable[[np.ndarray], None], fps: float) -> None:
        self._write, self.fps = write, fps
        self._start: float | None = None
        self.written = 0

    def __call__(self, frame: np.ndarray, stamp: float) -> None:
        if self._start is None:
            self._start = stamp
        due = int(round((stamp - self._start) * self.fps)) + 1  # output frames up to and including this one's time
        while self.written < due:
            self._write(frame)
            self.written += 1


def open_camera(index: int) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise InputError(f"camera {index} (/dev/video{index}) cannot be opened: no such device or it is busy")
    return capture


def _live_source(camera: int | None, source: str | None
                 ) -> tuple[Iterator[tuple[np.ndarray, float]], float, LatestFrameReader | None]:
    if source is not None and Path(source).exists():
        return iter_video_timed(Path(source)), video_info(Path(source))[0], None
    if source is not None:
        capture = cv2.VideoCapture(source)  # a stream URL
        if not capture.isOpened():
            raise InputError(f"{source}: no such file, and not a stream OpenCV can open")
    else:
        capture = open_camera(camera or 0)
    reader = LatestFrameReader(capture)
    return reader.frames(), capture.get(cv2.CAP_PROP_FPS), reader


class TkWindow:
    """The live window through tkinter: each frame goes to a Tk photo image as a binary PPM (exact pixels, a few
    ms for 640x480); key presses are queued by Tk's event loop, which runs in `show` and `wait_key`."""

    def __init__(self, title: str) -> None:
        import tkinter

        self._tk = tkinter
        self.root = tkinter.Tk(className=title)  # TclError without a display
        self.root.title(title)
        self._label = tkinter.Label(self.root, borderwidth=0, highlightthickness=0, background="black")
        self._label.pack()
        self._photo = None
        self._keys: deque[str] = deque()
        self.root.bind("<KeyPress>", lambda event: self._keys.append(event.char.lower()))  # Q as q (caps lock)
        self.root.protocol("WM_DELETE_WINDOW", lambda: self._keys.append("q"))  # closing the window quits
        self._max_size = (int(self.root.winfo_screenwidth() * 0.95), int(self.root.winfo_screenheight() * 0.9))
        self.root.focus_force()

    def show(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        scale = min(1.0, self._max_size[0] / w, self._max_size[1] / h)  # a large camera frame fits the screen
        if scale < 1.0:
            w, h = max(1, round(w * scale)), max(1, round(h * scale))
            frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
        if self._photo is None or (self._photo.width(), self._photo.height()) != (w, h):
            self._photo = self._tk.PhotoImage(master=self.root, width=w, height=h)
            self._label.configure(image=self._photo)
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        self._photo.configure(data=b"P6 %d %d 255 " % (w, h) + rgb.tobytes(), format="PPM")
        self.root.update()

    def wait_key(self, ms: float) -> str | None:
        """The next key pressed (its character), waiting up to `ms` milliseconds for one."""
        deadline = time.monotonic() + ms / 1e3
        while True:
            self.root.update()
            if self._keys:
                return self._keys.popleft()
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(left, 0.005))

    def close(self) -> None:
        self.root.destroy()


class CvWindow:
    """OpenCV's HighGUI window, for an OpenCV build with one (opencv-python) and a Python without tkinter."""

    def __init__(self, title: str) -> None:
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)  # cv2.error in a headless build

    def show(self, frame: np.ndarray) -> None:
        cv2.imshow(self.title, frame)

    def wait_key(self, ms: float) -> str | None:
        key = cv2.waitKey(max(1, int(ms))) & 0xFF
        return None if key == 0xFF else chr(key)

    def close(self) -> None:
        cv2.destroyAllWindows()


def open_window(title: str = WINDOW) -> TkWindow | CvWindow:
    """A Tk window; OpenCV's if this Python has no tkinter; else a one-line error naming the way out."""
    try:
        import tkinter
    except ImportError:
        try:
            return CvWindow(title)
        except cv2.error as exc:
            raise InputError("no window toolkit: this Python has no tkinter (Debian/Ubuntu: apt install python3-tk) "
                             "and OpenCV has no GUI; run with --headless --record out.mp4") from exc
    try:
        return TkWindow(title)
    except tkinter.TclError as exc:
        where = f"DISPLAY={os.environ['DISPLAY']}" if os.environ.get("DISPLAY") else "no $DISPLAY"
        raise InputError(f"cannot open a window ({where}): run with --headless --record out.mp4") from exc


def run_webcam(runner: FrameBufferRunner, camera: int | None = None, source: str | None = None, headless: bool = False,
               record: Path | None = None, max_frames: int | None = None) -> dict:
    if headless and record is None:
        raise InputError("--headless needs --record out.mp4 (there is no window to show)")
    window = None if headless else open_window()
    shown, reader = 0, None
    started = time.perf_counter()
    try:
        frames, fps, reader = _live_source(camera, source)
        realtime = window is not None and reader is None  # a file in the window plays at its own speed
        if record is not None:
            with annotated_video(record, fps) as sink:
                shown = _loop(runner, frames, window, TimedWriter(sink.write, sink.fps), max_frames, realtime)
        else:
            shown = _loop(runner, frames, window, None, max_frames, realtime)
    finally:
        if reader is not None:
            reader.close()
        if window is not None:
            window.close()
    elapsed = time.perf_counter() - started
    return {"frames": shown, "seconds": elapsed, "fps": shown / elapsed if elapsed else 0.0,
            "dropped": reader.dropped if reader else 0, "record": str(record) if record else None}


def _loop(runner: FrameBufferRunner, frames: Iterator[tuple[np.ndarray, float]], window, write,
          max_frames: int | None, realtime: bool = False) -> int:
    shown, last_tick, fps = 0, time.perf_counter(), 0.0
    clock = None  # (wall time, frame stamp) that a file's playback is scheduled from
    for frame, stamp in frames:
        prediction = runner.step(frame, stamp)
        now = time.perf_counter()
        instant = 1.0 / max(now - last_tick, 1e-6)
        fps, last_tick = (0.9 * fps + 0.1 * instant) if fps else instant, now
        annotated = draw_prediction(frame, prediction, fps, runner.history_seconds)
        if write is not None:
            write(annotated, stamp)
        shown += 1
        if window is not None:
            window.show(annotated)
            if realtime and clock is None:
                clock = (time.perf_counter(), stamp)
            wait_ms = 1e3 * (clock[0] + stamp - clock[1] - time.perf_counter()) if realtime else 0.0
            action = _handle_keys(runner, window, wait_ms)
            if action == "quit":
                break
            if action == "resumed" and realtime:
                clock = (time.perf_counter(), stamp)
        if max_frames is not None and shown >= max_frames:
            break
    return shown


def _handle_keys(runner: FrameBufferRunner, window, wait_ms: float) -> str | None:
    """Keys while the frame is on screen, for `wait_ms` (at least one look): q quits, r resets the runner, space
    pauses until pressed again (frames wait)."""
    deadline = time.perf_counter() + max(wait_ms, 1.0) / 1e3
    paused = False
    while True:
        key = window.wait_key(30 if paused else max(1.0, 1e3 * (deadline - time.perf_counter())))
        if key == "q":
            return "quit"
        if key == "r":
            runner.reset()
        if key == " ":
            paused = not paused
            if not paused:
                return "resumed"
        if not paused and time.perf_counter() >= deadline:
            return None
