"""What `--default` means: until a trained default model ships, STSM-MobileNetV2 (causal, T = 8)
carrying torchvision's ImageNet weights and the 1000 ImageNet labels."""

from __future__ import annotations

from pathlib import Path

from stsm_edge.assets import imagenet_labels
from stsm_edge.models.tsn import ModelConfig, TemporalSegmentNetwork, build_model
from stsm_edge.weights import file_sha256, imagenet_weights_path, load_model, load_weights

DEFAULT_CONFIG = ModelConfig(backbone="mobilenet_v2", num_classes=1000, n_segments=8, dims="THW", fold_div=8,
                             causal=True, width_mult=1.0, dropout=0.2)


def default_model() -> tuple[TemporalSegmentNetwork, list[str], dict]:
    """(model in eval mode, labels, source description for sidecars)."""
    model = build_model(DEFAULT_CONFIG)
    path = imagenet_weights_path()
    load_weights(model, path)
    return model.eval(), imagenet_labels(), {"checkpoint": path.name, "sha256": file_sha256(path),
                                             "weights": "torchvision ImageNet MobileNetV2"}


def model_from_checkpoint(path: Path) -> tuple[TemporalSegmentNetwork, list[str], dict]:
    model, labels = load_model(path)
    if not labels:
        labels = [f"class_{i}" for i in range(model.config.num_classes)]
    return model, labels, {"checkpoint": Path(path).name, "sha256": file_sha256(Path(path))}
