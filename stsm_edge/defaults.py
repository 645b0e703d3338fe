"""What `--default` means: until a trained default model ships, STSM-MobileNetV2 (causal, T = 8)
carrying torchvision's ImageNet weights and the 1000 ImageNet labels."""

from __future__ import annotations

from stsm_edge.assets import imagenet_labels
from stsm_edge.models.tsn import ModelConfig, build_model
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.weights import ModelBundle, file_sha256, imagenet_weights_path, load_weights

DEFAULT_CONFIG = ModelConfig(backbone="mobilenet_v2", num_classes=1000, n_segments=8, dims="THW", fold_div=8,
                             causal=True, width_mult=1.0, dropout=0.2)


def default_model() -> ModelBundle:
    model = build_model(DEFAULT_CONFIG)
    path = imagenet_weights_path()
    load_weights(model, path)
    return ModelBundle(model.eval(), imagenet_labels(), PreprocessSpec(),
                       {"checkpoint": path.name, "sha256": file_sha256(path), "weights": "torchvision ImageNet MobileNetV2"})
