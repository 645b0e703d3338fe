"""Fine-tuning TSN / TSM / STSM (bidirectional or causal) on video clips, as the TSM paper trains them.

SGD with momentum 0.9 and weight decay 1e-4 (none on BatchNorm and biases, as TSM), dropout before
the new head, a short linear warm-up, then step decay or cosine. Unlike TSM's Kinetics fine-tuning the
head gets no 5x learning rate: MobileNetV2's pooled 1280-d features are large enough that a 5x head
step overshoots (measured: the loss of a 2-class run climbed to 4.5 and the motion was never learnt).

Runs on CPU; launched by `torchrun` it trains with DistributedDataParallel (gloo on CPU, nccl on
GPUs): each process reads its own shard of the clips and only rank 0 evaluates and writes.

A run folder holds `log.jsonl` (one line per epoch), `last.pt` (resumable: optimizer and epoch
inside) and `best.pt` (best validation top-1); both are stsm-edge checkpoints `load_model` reads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from stsm_edge.architectures import ShiftConfig, resolve_shift
from stsm_edge.checkpoints import load_state_dict, load_weights, read_checkpoint, save_checkpoint
from stsm_edge.data import ClipAugment, VideoClipDataset, label_swap_map, make_loader, read_annotations, read_labels
from stsm_edge.data.dataset import SAMPLINGS
from stsm_edge.errors import InputError
from stsm_edge.models import ModelConfig, TemporalSegmentNetwork, build_model
from stsm_edge.options import STEP_MS, FitFlags, ModelFlags, ShiftFlags, option
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.timebase import MEASURED_CLIPS, TimeStep, step_from_ms, training_time_step
from stsm_edge.video import video_info


def flip_pair(text: str) -> tuple[str, str]:
    """`A:B`, two labels a horizontal flip swaps."""
    if text.count(":") != 1:
        raise argparse.ArgumentTypeError(f"expected A:B, got {text!r}")
    first, second = text.split(":")
    return first, second


@dataclass
class TrainConfig:
    data: str = option(help="folder with train.txt, labels.txt and optionally val.txt")
    out: str = FitFlags.out.field()
    method: str = ShiftFlags.method.field("stsm_causal")
    dims: str | None = ShiftFlags.dims.field(None)
    fold_div: int | None = ShiftFlags.fold_div.field(None)
    causal: bool | None = ShiftFlags.causal.field(None)
    n_segments: int = ModelFlags.segments.field(8)
    backbone: str = ModelFlags.backbone.field("mobilenet_v2")
    width_mult: float = 1.0
    size: int = ModelFlags.size.field(112)
    pretrained: str = option("imagenet", "imagenet, none, or a checkpoint of any layout (its head kept if it fits)")
    epochs: int = FitFlags.epochs.field(8)
    batch_size: int = FitFlags.batch_size.field(8)
    lr: float = FitFlags.lr.field(0.005)
    schedule: str = option("cosine", "cosine, or step: x0.1 at each of --lr-steps", choices=("cosine", "step"))
    lr_steps: tuple[int, ...] = option((5, 7), "epochs of x0.1 decay (step schedule)")
    warmup_epochs: float = 0.5
    momentum: float = 0.9
    weight_decay: float = 1e-4
    dropout: float = option(0.5, "")
    workers: int = FitFlags.workers.field(2)
    seed: int = FitFlags.seed.field(0)
    flip_pairs: tuple[tuple[str, str], ...] | None = option(
        None, "labels a horizontal flip swaps (repeat; default: the data folder's meta.json)", flag="--flip-pair",
        action="append", type=flip_pair, nargs=None, metavar="A:B")
    max_steps_per_epoch: int | None = FitFlags.max_steps_per_epoch.field(None)
    sampling: str = option("segment", "which frames a clip gives: T segments (TSN) or every --dense-stride-th",
                           choices=("segment", "dense"))
    dense_stride: int = option(2, "")
    step_ms: float | None = STEP_MS.field(None)

    def __post_init__(self) -> None:
        try:
            resolve_shift(self.method, self.dims, self.fold_div, self.causal)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if self.schedule not in ("cosine", "step"):
            raise InputError(f"unknown schedule {self.schedule!r}; choose cosine or step")
        if self.step_ms is not None:
            step_from_ms(self.step_ms)  # a one-line error for a step <= 0
            self.sampling = "timed"
        if self.sampling not in SAMPLINGS:
            raise InputError(f"unknown sampling {self.sampling!r}; choose one of {', '.join(SAMPLINGS)}")
        if self.sampling == "timed" and self.step_ms is None:
            raise InputError("timed sampling needs --step-ms")
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise InputError("epochs and batch size must be >= 1 and the learning rate > 0")

    @property
    def shift(self) -> ShiftConfig:
        return resolve_shift(self.method, self.dims, self.fold_div, self.causal)

    @property
    def step_seconds(self) -> float | None:
        return None if self.step_ms is None else self.step_ms / 1e3

    def dataset(self, records, spec: PreprocessSpec, *, train: bool, **kwargs) -> VideoClipDataset:
        """Clips sampled as this run samples them, for training (random offsets) or validation (centred)."""
        return VideoClipDataset(records, self.n_segments, spec, train=train, sampling=self.sampling,
                                dense_stride=self.dense_stride, step_seconds=self.step_seconds, **kwargs)

    def model_config(self, num_classes: int) -> ModelConfig:
        shift = self.shift
        return ModelConfig(backbone=self.backbone, num_classes=num_classes, n_segments=self.n_segments,
                           dims=shift.dims, fold_div=shift.fold_div, causal=shift.causal, width_mult=self.width_mult,
                           dropout=self.dropout)


@dataclass
class EpochLog:
    epoch: int
    lr: float
    train_loss: float
    train_top1: float
    val_top1: float | None
    seconds: float
    world_size: int
    steps: int


def learning_rate(config: TrainConfig, progress: float) -> float:
    """Base learning rate at `progress` epochs into training (fractional), with a linear warm-up."""
    if progress < config.warmup_epochs:
        return config.lr * (progress + 1e-3) / config.warmup_epochs
    if config.schedule == "cosine":
        return 0.5 * config.lr * (1 + math.cos(math.pi * progress / config.epochs))
    return config.lr * 0.1 ** sum(progress >= step for step in config.lr_steps)


def make_optimizer(model: TemporalSegmentNetwork, config: TrainConfig) -> torch.optim.SGD:
    """TSM's policy: weight decay on conv and linear weights only, none on BatchNorm and biases."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.SGD([{"params": decay, "weight_decay": config.weight_decay},
                            {"params": no_decay, "weight_decay": 0.0}], lr=config.lr, momentum=config.momentum)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


Objective = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, int]]
"""What a step minimises: (logits, clips, targets) -> (loss, hits), hits counting top-1s that match the objective's
reference (the labels, or a teacher's choice)."""


def supervised(logits: torch.Tensor, clips: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
    return nn.functional.cross_entropy(logits, targets), int((logits.argmax(1) == targets).sum())


def train_step(model: nn.Module, clips: torch.Tensor, labels: torch.Tensor, optimizer: torch.optim.Optimizer,
               objective: Objective = supervised, frozen_batchnorm: bool = False) -> tuple[float, int]:
    """One SGD step; returns the batch loss and its number of top-1 hits. `frozen_batchnorm` keeps BatchNorm on
    its running statistics (TSM's partial BN, for all layers): the affine parameters still learn."""
    model.train()
    if frozen_batchnorm:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
    loss, hits = objective(model(clips), clips, labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 20.0)  # TSM clips at 20: early fine-tuning steps can spike
    optimizer.step()
    return loss.item(), hits


@torch.no_grad()
def accuracy(model: nn.Module, loader) -> float:
    model.eval()
    correct = total = 0
    for clips, labels in loader:
        correct += int((model(clips).argmax(1) == labels).sum())
        total += len(labels)
    return correct / max(total, 1)


def _flip_pairs(config: TrainConfig) -> tuple[tuple[str, str], ...]:
    if config.flip_pairs is not None:
        return config.flip_pairs
    meta = Path(config.data) / "meta.json"
    return tuple(tuple(p) for p in json.loads(meta.read_text()).get("flip_pairs", [])) if meta.exists() else ()


def _distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


@dataclass
class Fit:
    """Everything the shared loop needs: supervised training and distillation each build one."""

    config: TrainConfig
    model: TemporalSegmentNetwork
    labels: list[str]
    spec: PreprocessSpec
    time_step: TimeStep | None
    train_set: VideoClipDataset
    val_set: VideoClipDataset | None
    objective: Objective = supervised
    extra: dict = field(default_factory=dict)  # more for the checkpoints (e.g. the distillation settings)
    frozen_batchnorm: bool = False


def train(config: TrainConfig, resume: str | Path | None = None, log=print,
          after_epoch: Callable[[int, TemporalSegmentNetwork], None] | None = None) -> Path:
    """Train; returns the path of the best checkpoint (best.pt; last.pt when there is no val split).

    `after_epoch(epoch, model)` runs on rank 0 after each epoch's checkpoints are written (a study's own
    per-epoch evaluation); the model is in eval mode and must not be changed.
    """
    data = Path(config.data)
    labels = read_labels(data / "labels.txt")
    spec = PreprocessSpec.for_size(config.size, config.size)
    torch.manual_seed(config.seed)  # the head's init and the loader's shuffling; clip sampling has its own RNG
    model = build_model(config.model_config(len(labels)))
    if not resume and config.pretrained != "none":
        report = load_weights(model, config.pretrained)
        head = "head replaced: " + "; ".join(report.notes) if report.replaced_head else \
            f"head of {len(labels)} classes kept"
        log(f"pretrained: {config.pretrained} ({report.layout} layout), {head}")
    flip = label_swap_map(labels, list(_flip_pairs(config))) or None
    train_records = read_annotations(data / "train.txt")
    train_set = config.dataset(train_records, spec, train=True, augment=ClipAugment(flip_label_map=flip),
                               seed=config.seed)
    val_set = config.dataset(read_annotations(data / "val.txt"), spec, train=False) \
        if (data / "val.txt").exists() else None
    fit = Fit(config, model, labels, spec, report_time_step(config, train_records, log), train_set, val_set)
    return run_fit(fit, resume, log, after_epoch)


def report_time_step(config: TrainConfig, records, log) -> TimeStep | None:
    """The run's time step, measured and logged on rank 0 (the only rank that writes checkpoints)."""
    if int(os.environ.get("RANK", "0")) != 0:
        return None
    time_step = measure_time_step(config, records)
    log(f"model time step: {time_step.describe()}" if time_step else
        "model time step unknown: the training clips have no frame rate (image folders?); set --step-ms at export")
    return time_step


def run_fit(fit: Fit, resume: str | Path | None = None, log=print,
            after_epoch: Callable[[int, TemporalSegmentNetwork], None] | None = None) -> Path:
    """The loop `train` and `distill` share: SGD over the train set (sharded under torchrun), then on rank 0 the
    val top-1, `last.pt`/`best.pt` and a `log.jsonl` line per epoch. `resume` continues from a `last.pt`."""
    config, model = fit.config, fit.model
    rank, world = _distributed()
    out = Path(config.out)
    start_epoch, best = 0, -1.0
    optimizer = make_optimizer(model, config)
    if resume:
        state = read_checkpoint(Path(resume))
        load_state_dict(model, state["state_dict"], str(resume))
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, best = int(state["epoch"]) + 1, float(state.get("best_val_top1", -1.0))
    train_set = fit.train_set
    sampler = DistributedSampler(train_set, world, rank, shuffle=True, seed=config.seed) if world > 1 else None
    train_loader = make_loader(train_set, config.batch_size, shuffle=sampler is None, workers=config.workers,
                               sampler=sampler)
    val_loader = None
    if fit.val_set is not None and rank == 0:
        val_loader = make_loader(fit.val_set, config.batch_size, shuffle=False, workers=config.workers)
    net = DistributedDataParallel(model) if world > 1 else model

    steps_per_epoch = len(train_loader) if config.max_steps_per_epoch is None else min(
        len(train_loader), config.max_steps_per_epoch)
    for epoch in range(start_epoch, config.epochs):
        train_set.set_epoch(epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        started, loss_sum, correct, seen = time.perf_counter(), 0.0, 0, 0
        bar = _progress(steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}", enabled=rank == 0)
        for step, (clips, targets) in enumerate(train_loader):
            if step >= steps_per_epoch:
                break
            set_learning_rate(optimizer, learning_rate(config, epoch + step / steps_per_epoch))
            loss, hits = train_step(net, clips, targets, optimizer, fit.objective, fit.frozen_batchnorm)
            loss_sum, correct, seen = loss_sum + loss * len(targets), correct + hits, seen + len(targets)
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}")
        bar.close()
        if rank == 0:
            val_top1 = accuracy(model, val_loader) if val_loader is not None else None
            entry = EpochLog(epoch, learning_rate(config, epoch), loss_sum / max(seen, 1), correct / max(seen, 1),
                             val_top1, round(time.perf_counter() - started, 1), world, steps_per_epoch)
            score = val_top1 if val_top1 is not None else entry.train_top1
            is_best = score > best
            best = max(best, score)
            _save(fit, out / "last.pt", optimizer, epoch, best)
            if is_best:
                _save(fit, out / "best.pt", None, epoch, best)
            with open(out / "log.jsonl", "a") as f:
                f.write(json.dumps(asdict(entry)) + "\n")
            if after_epoch is not None:
                after_epoch(epoch, model.eval())
            val_text = f"{val_top1:.1%}" if val_top1 is not None else "-"
            log(f"epoch {epoch + 1}: loss {entry.train_loss:.3f}, train top-1 {entry.train_top1:.1%}, "
                f"val top-1 {val_text}, {entry.seconds:.0f} s")
        if world > 1:
            dist.barrier()
    if world > 1:
        dist.destroy_process_group()
    return out / ("best.pt" if (out / "best.pt").exists() else "last.pt")


def measure_time_step(config: TrainConfig, records) -> TimeStep | None:
    """The time step this run teaches, from the headers of (at most MEASURED_CLIPS, evenly picked) training videos."""
    if config.sampling == "timed":
        return training_time_step([], config.n_segments, "timed", step_seconds=config.step_seconds)
    picked = records[:: max(1, len(records) // MEASURED_CLIPS)][:MEASURED_CLIPS]
    clips = []
    for record in picked:
        if record.path.is_file():
            fps, frames = video_info(record.path)
            clips.append((fps, record.num_frames or frames))
    return training_time_step(clips, config.n_segments, config.sampling, config.dense_stride)


def _save(fit: Fit, path: Path, optimizer: torch.optim.Optimizer | None, epoch: int, best: float) -> None:
    extra = {**fit.extra, "train_config": asdict(fit.config), "epoch": epoch, "best_val_top1": best}
    if optimizer is not None:
        extra["optimizer"] = optimizer.state_dict()
    save_checkpoint(fit.model, path, fit.labels, fit.spec, extra, fit.time_step)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, leave=False, disable=not enabled, dynamic_ncols=True)
