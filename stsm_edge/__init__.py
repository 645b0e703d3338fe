"""stsm-edge: spatio-temporal shift action recognition, from PyTorch to phones."""

import os

# FFmpeg inside OpenCV prints its own multi-line complaints about bad files ("moov atom not found");
# stsm-edge reports those as one clear line itself. Set before OpenCV opens its first video.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from stsm_edge.shift import PRESETS, ShiftConfig, SpatioTemporalShift, shift_frame, spatiotemporal_shift  # noqa: E402

__version__ = "0.1.0"
__all__ = ["PRESETS", "ShiftConfig", "SpatioTemporalShift", "shift_frame", "spatiotemporal_shift"]
