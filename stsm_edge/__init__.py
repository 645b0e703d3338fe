"""stsm-edge: spatio-temporal shift action recognition, from PyTorch to phones. The package's top names are the
shift's (stsm_edge.shift), loaded on first use so that importing a light room (the CLI's `--help`) loads no torch."""

import importlib
import os

# FFmpeg inside OpenCV prints its own multi-line complaints about bad files ("moov atom not found");
# stsm-edge reports those as one clear line itself. Set before OpenCV opens its first video.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

__version__ = "0.1.0"
__all__ = ["PRESETS", "ShiftConfig", "SpatioTemporalShift", "shift_frame", "spatiotemporal_shift"]


def __getattr__(name: str):
    if name in __all__:
        return getattr(importlib.import_module("stsm_edge.shift"), name)
    raise AttributeError(f"module 'stsm_edge' has no attribute {name!r}")
