"""Training data: annotation lists, frame sampling, clip augmentation and the clip dataset."""

from stsm_edge.data.annotations import VideoRecord, read_annotations, read_labels
from stsm_edge.data.augment import ClipAugment, label_swap_map
from stsm_edge.data.dataset import VideoClipDataset, make_loader
from stsm_edge.data.sampling import dense_indices, segment_indices

__all__ = [
    "ClipAugment",
    "VideoClipDataset",
    "VideoRecord",
    "dense_indices",
    "label_swap_map",
    "make_loader",
    "read_annotations",
    "read_labels",
    "segment_indices",
]
