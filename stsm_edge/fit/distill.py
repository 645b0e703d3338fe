"""Any shift to any other without the original labels: knowledge distillation on unlabelled video.

The checkpoints people hold (TSM, MMAction2) are bidirectional and cannot stream. A student with another shift,
usually a causal preset that streams, starts from the teacher's weights (the shift has no parameters, so they
fit) and learns to match the teacher's clip logits on unlabelled clips: the KL divergence between the two
softened distributions at temperature T, scaled by T² (Hinton et al.), plus cross-entropy on the list's labels
when `label_weight` > 0 asks for them. The teacher sees the same augmented clip as the student, so flips need no
label map. BatchNorm keeps the teacher's running statistics (only its affine parameters learn): the student
must match the teacher as both run at inference, and small batches of new video would otherwise drag the
statistics away from what the teacher's weights were made for (measured on tiny motion clips, 12 steps from an
ImageNet TSN teacher to an STSM causal student: the KD loss on held-out clips fell from 9.2 to 6.6 with the
statistics frozen and rose to 16.0 with them updating). Same data pipeline, augmentation, device, mixed precision,
DDP under torchrun, checkpoints, resume and log as `train` (the shared `run_fit`; the teacher runs on the same
device, under the same autocast); the output is an ordinary stsm-edge checkpoint with the teacher's labels and
preprocessing and the student's shift.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from stsm_edge.architectures import METHODS, resolve_shift
from stsm_edge.checkpoints import ForeignFlags, load_model
from stsm_edge.data import ClipAugment, VideoRecord, read_annotations
from stsm_edge.errors import InputError
from stsm_edge.fit.device import Accelerator, DeviceConfig
from stsm_edge.fit.train import Fit, Objective, TrainConfig, report_time_step, run_fit
from stsm_edge.models import TemporalSegmentNetwork, build_model, load_state_dict
from stsm_edge.options import STEP_MS, TEACHER, TEMPERATURE, FitFlags, ShiftFlags, option

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")


@dataclass
class DistillConfig:
    teacher: str = TEACHER.use(TEACHER.help + " (the student starts from its weights)").field()
    videos: str = option(help="a folder of videos, or a list (its labels are read only with --label-weight > 0)")
    out: str = FitFlags.out.field()
    student_method: str = option("stsm_causal", "the student's shift: a preset, or custom with --dims/--fold-div/"
                                 "--causal", flag="--student-preset", choices=METHODS)
    dims: str | None = ShiftFlags.dims.field(None)
    fold_div: int | None = ShiftFlags.fold_div.field(None)
    causal: bool | None = ShiftFlags.causal.field(None)
    temperature: float = TEMPERATURE.field(4.0)
    label_weight: float = option(0.0, "weight of cross-entropy on the list's labels (0: labels never read)")
    val: str | None = option(None, "a labelled list: its top-1 after each epoch picks best.pt")
    epochs: int = FitFlags.epochs.field(4)
    batch_size: int = FitFlags.batch_size.field(8)
    # The student starts at the teacher's optimum and needs small steps: on an ImageNet teacher (1000 classes,
    # T = 4) one SGD step at 1e-3 raised the KD loss 20x, while 8 steps at 1e-4 halved it.
    lr: float = FitFlags.lr.field(1e-4)
    workers: int = FitFlags.workers.field(2)
    prefetch: int = FitFlags.prefetch.field(2)
    seed: int = FitFlags.seed.field(0)
    step_ms: float | None = STEP_MS.field(None)
    max_steps_per_epoch: int | None = FitFlags.max_steps_per_epoch.field(None)
    # For a teacher from another tool, which does not record them: the same flags as every command that opens a
    # checkpoint (stsm_edge.checkpoints.ForeignFlags), given to the CLI beside this config's own.
    teacher_flags: ForeignFlags = field(default_factory=ForeignFlags)

    def __post_init__(self) -> None:
        try:
            resolve_shift(self.student_method, self.dims, self.fold_div, self.causal)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        self.teacher_flags.load_options()  # its own checks (--segments >= 1) before any slow step
        if self.temperature <= 0:
            raise InputError(f"--temperature must be > 0, got {self.temperature:g}")
        if not 0.0 <= self.label_weight < 1.0:
            raise InputError(f"--label-weight must be in [0, 1), got {self.label_weight:g}")

    def train_config(self, teacher: TemporalSegmentNetwork, size: int) -> TrainConfig:
        """The student's training settings: the teacher's backbone, width, T and input size, this shift."""
        t = teacher.config
        return TrainConfig(data=self.videos, out=self.out, method=self.student_method, dims=self.dims,
                           fold_div=self.fold_div, causal=self.causal, n_segments=t.n_segments, backbone=t.backbone,
                           width_mult=t.width_mult, size=size, pretrained=self.teacher, epochs=self.epochs,
                           batch_size=self.batch_size, lr=self.lr, dropout=t.dropout, workers=self.workers,
                           prefetch=self.prefetch, seed=self.seed, step_ms=self.step_ms, max_steps_per_epoch=self.max_steps_per_epoch)


def unlabelled_records(source: Path) -> list[VideoRecord]:
    """Videos to distil on, their labels never read: a folder's video files (recursively, sorted), or a list
    file whose first field on each line is a path (counts and labels after it are ignored)."""
    source = Path(source)
    if source.is_dir():
        paths = sorted(p for p in source.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    elif source.is_file():
        lines = [line.split()[0] for line in source.read_text(encoding="utf-8").splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
        paths = [source.parent / line for line in lines]
    else:
        raise InputError(f"{source}: no such folder or list of videos")
    if not paths:
        raise InputError(f"{source}: no videos found")
    return [VideoRecord(path, -1) for path in paths]


def distillation(teacher: nn.Module, temperature: float, label_weight: float) -> Objective:
    """KD on the teacher's clip logits (+ weighted cross-entropy where a clip has a label); hits = agreement
    with the teacher's top-1."""

    def objective(logits: torch.Tensor, clips: torch.Tensor, targets: torch.Tensor):
        with torch.no_grad():
            reference = teacher(clips)
        loss = nn.functional.kl_div(nn.functional.log_softmax(logits / temperature, 1),
                                    nn.functional.softmax(reference / temperature, 1),
                                    reduction="batchmean") * temperature ** 2
        labelled = targets >= 0
        if label_weight > 0 and bool(labelled.any()):
            supervised = nn.functional.cross_entropy(logits[labelled], targets[labelled])
            loss = (1 - label_weight) * loss + label_weight * supervised
        return loss, (logits.argmax(1) == reference.argmax(1)).sum()

    return objective


def distill(config: DistillConfig, resume: str | Path | None = None, log=print,
            device: DeviceConfig | None = None) -> Path:
    """Distil; returns the path of the best checkpoint (by val top-1 with --val, else by agreement with the teacher)."""
    accelerator = Accelerator.open(device)  # a device that cannot be had is refused before anything is read
    bundle = load_model(Path(config.teacher), config.teacher_flags.load_options())
    teacher = accelerator.prepare(bundle.model.eval())
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    train_config = config.train_config(teacher, bundle.preprocess.size[0])
    torch.manual_seed(config.seed)
    student = build_model(train_config.model_config(len(bundle.labels)))
    if not resume:  # the shift has no parameters: the teacher's weights fit the student as they are
        load_state_dict(student, teacher.backbone.state_dict(), config.teacher)
    if config.label_weight > 0:
        records = read_annotations(Path(config.videos))
        bad = [r for r in records if r.label >= len(bundle.labels)]
        if bad:
            raise InputError(f"{config.videos}: label {bad[0].label} is outside the teacher's {len(bundle.labels)} "
                             "classes")
        flip = None  # a flip would turn a direction label into its opposite: no flips with labels
    else:
        records = unlabelled_records(Path(config.videos))
        flip = {}  # labels are not used, and the teacher relabels each flipped clip itself
    train_set = train_config.dataset(records, bundle.preprocess, train=True, augment=ClipAugment(flip_label_map=flip),
                                     seed=config.seed)
    val_set = train_config.dataset(read_annotations(Path(config.val)), bundle.preprocess, train=False) \
        if config.val else None
    fit = Fit(train_config, student, bundle.labels, bundle.preprocess, report_time_step(train_config, records, log),
              train_set, val_set, accelerator, distillation(teacher, config.temperature, config.label_weight),
              {"distill_config": asdict(config), "teacher": bundle.source}, frozen_batchnorm=True)
    return run_fit(fit, resume, log)
