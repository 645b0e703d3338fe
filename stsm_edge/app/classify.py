"""ImageNet top-5 of one image: the plain MobileNetV2, then the same weights inside STSM on a still clip.

A still clip moves nothing in time, so STSM's temporal shift only zero-fills at the clip's ends while its
spatial shifts still move channels: the two top-5 lists show what the shift does to features it was not
trained with."""

from __future__ import annotations

from pathlib import Path

import cv2
import torch

from stsm_edge.assets import coffee_image_path
from stsm_edge.defaults import IMAGENET_CONFIG, imagenet_model
from stsm_edge.errors import InputError
from stsm_edge.models import ModelConfig, build_model
from stsm_edge.preprocess import preprocess_tensor


def classify_image(path: Path | None = None, k: int = 5) -> dict[str, list[tuple[float, str]]]:
    """model name -> its top-k (probability, label) for the image (default: scikit-image's coffee)."""
    path = Path(path) if path else coffee_image_path()
    if not path.is_file():
        raise InputError(f"{path}: no such image file")
    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise InputError(f"{path}: not an image OpenCV can read")
    bundle = imagenet_model()
    stsm, labels = bundle.model, bundle.labels
    plain = build_model(ModelConfig(**{**IMAGENET_CONFIG.to_dict(), "dims": ""}), weights="imagenet")
    x = preprocess_tensor(frame)
    still_clip = x.unsqueeze(1).expand(1, stsm.n_segments, *x.shape[1:])
    with torch.no_grad():
        probabilities = {"plain MobileNetV2": plain.backbone.eval()(x).softmax(-1)[0],
                         f"STSM-MobileNetV2, still clip of {stsm.n_segments}": stsm(still_clip).softmax(-1)[0]}
    return {name: [(score, labels[index]) for score, index in zip(*(t.tolist() for t in probs.topk(k)))]
            for name, probs in probabilities.items()}


def classify_report(path: Path | None = None) -> str:
    name = Path(path).name if path else coffee_image_path().name
    lines = []
    for model, top in classify_image(path).items():
        lines.append(f"top-5 for {name}, {model} (ImageNet weights):")
        lines += [f"  {score:6.1%}  {label}" for score, label in top]
    return "\n".join(lines)
