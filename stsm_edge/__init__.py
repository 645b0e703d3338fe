"""stsm-edge: spatio-temporal shift action recognition, from PyTorch to phones."""

from stsm_edge.shift import PRESETS, ShiftConfig, SpatioTemporalShift, shift_frame, spatiotemporal_shift

__version__ = "0.1.0"
__all__ = ["PRESETS", "ShiftConfig", "SpatioTemporalShift", "shift_frame", "spatiotemporal_shift"]
