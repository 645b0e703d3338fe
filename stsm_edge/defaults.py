"""The two models the CLI can name without a path, and `model_bundle`, which opens either or a checkpoint file.

`default_model()` (`--default`): STSM-MobileNetV2 (width 1.0, causal, T = 8) fine-tuned from ImageNet on
the motion benchmark, shipped in the package (weights stored in fp16 to stay small; they load as fp32).
`imagenet_model()`: the same architecture carrying torchvision's ImageNet weights and the 1000 ImageNet
labels, used where a 1000-class head is the point (ImageNet predictions, the latency benchmarks).
"""

from __future__ import annotations

from pathlib import Path

from stsm_edge.checkpoints import LoadOptions, ModelBundle, load_model
from stsm_edge.fileio import file_sha256
from stsm_edge.models import ModelConfig, build_model, get_weights

RESOURCES = Path(__file__).parent / "resources"
DEFAULT_CHECKPOINT = RESOURCES / "stsm_mobilenet_v2_motion.pt"
IMAGENET_CONFIG = ModelConfig(backbone="mobilenet_v2", num_classes=1000, n_segments=8, dims="THW", fold_div=8,
                              causal=True, width_mult=1.0, dropout=0.2)


def default_model() -> ModelBundle:
    bundle = load_model(DEFAULT_CHECKPOINT)
    bundle.source["weights"] = "stsm-edge motion benchmark (fine-tuned from ImageNet)"
    return bundle


def imagenet_model() -> ModelBundle:
    weights = get_weights("imagenet")
    model = build_model(IMAGENET_CONFIG, weights=weights.name)
    path = weights.path()
    return ModelBundle(model.eval(), weights.labels(), weights.preprocess,
                       {"checkpoint": path.name, "sha256": file_sha256(path),
                        "weights": "torchvision ImageNet MobileNetV2"})


NAMED_MODELS = {"default": default_model, "imagenet": imagenet_model}


def model_bundle(which: str | Path, options: LoadOptions = LoadOptions()) -> ModelBundle:
    """"default", "imagenet", or a checkpoint path (stsm-edge, MMAction2, TSM or torchvision; see LoadOptions)."""
    if str(which) in NAMED_MODELS:
        return NAMED_MODELS[str(which)]()
    return load_model(Path(which), options)
