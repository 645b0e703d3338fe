"""TSN: a 2D backbone run on the T frames of a clip as one (N*T) batch, logits averaged over T."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import Tensor, nn

from stsm_edge.architectures import BACKBONES, RESNET_BACKBONES
from stsm_edge.models.insert import insert_shift
from stsm_edge.models.mobilenet_v2 import MobileNetV2
from stsm_edge.models.resnet import resnet


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model; stored in checkpoints and export sidecars."""

    backbone: str = "mobilenet_v2"
    num_classes: int = 1000
    n_segments: int = 8
    dims: str = "THW"
    fold_div: int = 8
    causal: bool = False
    width_mult: float = 1.0
    dropout: float = 0.5
    shift_every: int = 1  # shift every block (1), or the first of every two in each stage (2: TSM's ResNet-101)

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose one of {', '.join(BACKBONES)}")
        if self.n_segments < 1 or self.num_classes < 1 or self.shift_every < 1:
            raise ValueError("n_segments, num_classes and shift_every must be >= 1")
        if self.backbone != "mobilenet_v2" and self.width_mult != 1.0:
            raise ValueError(f"width_mult applies to mobilenet_v2 only, not {self.backbone}")
        if self.backbone == "mobilenet_v2" and self.shift_every != 1:
            raise ValueError("shift_every applies to ResNets' stages; MobileNetV2 shifts every residual block")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(unknown)}")
        return cls(**data)


class TemporalSegmentNetwork(nn.Module):
    """(N, T, 3, H, W) -> (N, num_classes), or (N, T, num_classes) with return_frame_logits."""

    def __init__(self, backbone: nn.Module, config: ModelConfig) -> None:
        super().__init__()
        self.backbone = backbone
        self.config = config

    @property
    def n_segments(self) -> int:
        return self.config.n_segments

    def forward(self, clips: Tensor, return_frame_logits: bool = False) -> Tensor:
        if clips.dim() != 5 or clips.shape[1] != self.n_segments:
            raise ValueError(f"expected (N, {self.n_segments}, 3, H, W) clips, got shape {tuple(clips.shape)}")
        n, t = clips.shape[:2]
        frame_logits = self.backbone(clips.reshape(n * t, *clips.shape[2:])).reshape(n, t, -1)
        return frame_logits if return_frame_logits else frame_logits.mean(dim=1)


def replace_head(backbone: nn.Module, num_classes: int) -> None:
    old = backbone.head
    new = nn.Linear(old.in_features, num_classes)
    nn.init.normal_(new.weight, 0, 0.001)
    nn.init.zeros_(new.bias)
    if isinstance(backbone, MobileNetV2):
        backbone.classifier[1] = new
    else:
        backbone.fc = new


def assemble_model(config: ModelConfig) -> TemporalSegmentNetwork:
    """The network a config describes, freshly initialised; `stsm_edge.models.build_model` is the public door."""
    if config.backbone == "mobilenet_v2":
        backbone: nn.Module = MobileNetV2(config.num_classes, config.width_mult, config.dropout)
    else:
        backbone = resnet(RESNET_BACKBONES[config.backbone], config.num_classes, config.dropout)
    if config.dims:
        insert_shift(backbone, config.n_segments, config.dims, config.fold_div, config.causal, config.shift_every)
    return TemporalSegmentNetwork(backbone, config)
