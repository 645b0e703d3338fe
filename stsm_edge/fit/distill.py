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

from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from stsm_edge.checkpoints import LoadOptions, load_model
from stsm_edge.data.annotations import VideoRecord, read_annotations
from stsm_edge.data.augment import ClipAugment
from stsm_edge.errors import InputError
from stsm_edge.fit.config import DistillConfig
from stsm_edge.fit.device import Accelerator
from stsm_edge.fit.train import Fit, Objective, report_time_step, run_fit
from stsm_edge.models import build_model, load_state_dict
from stsm_edge.options import DeviceConfig

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")


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
    bundle = load_model(Path(config.teacher), LoadOptions.from_flags(config.teacher_flags))
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
