"""Checkpoint files: one module per layout (own, torchvision, tsm, mmaction2), the detector (detect), labels, and
the one loader that builds the model through stsm_edge.models and says what it inferred (loader)."""

from stsm_edge.checkpoints.detect import LAYOUTS, detect_layout, resolve_layout
from stsm_edge.checkpoints.files import Layout, apply_key_map, read_checkpoint, state_dict_of
from stsm_edge.checkpoints.labels import read_label_file
from stsm_edge.checkpoints.loader import (
    Found,
    Inferred,
    LoadOptions,
    ModelBundle,
    load_model,
    load_weights,
)
from stsm_edge.checkpoints.mmaction2 import MMACTION2_MEAN_0_255, MMACTION2_PREPROCESS, MMACTION2_STD_0_255
from stsm_edge.checkpoints.own import CHECKPOINT_FORMAT, pack_checkpoint, save_checkpoint
from stsm_edge.errors import WeightsError
from stsm_edge.models import LoadReport, load_state_dict

__all__ = [
    "CHECKPOINT_FORMAT", "LAYOUTS", "MMACTION2_MEAN_0_255", "MMACTION2_PREPROCESS", "MMACTION2_STD_0_255",
    "Found", "Inferred", "Layout", "LoadOptions", "LoadReport", "ModelBundle", "WeightsError",
    "apply_key_map", "detect_layout", "load_model", "load_state_dict", "load_weights", "pack_checkpoint",
    "read_checkpoint", "read_label_file", "resolve_layout", "save_checkpoint", "state_dict_of",
]
