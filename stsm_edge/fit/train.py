"""Fine-tuning TSN / TSM / STSM (bidirectional or causal) on video clips, as the TSM paper trains them.

SGD with momentum 0.9 and weight decay 1e-4 (none on BatchNorm and biases, as TSM), dropout before
the new head, a short linear warm-up, then step decay or cosine. Unlike TSM's Kinetics fine-tuning the
head gets no 5x learning rate: MobileNetV2's pooled 1280-d features are large enough that a 5x head
step overshoots (measured: the loss of a 2-class run climbed to 4.5 and the motion was never learnt).

Runs where `--device` says (fit/device.py: a GPU when there is one, else the CPU), with optional autocast
(`--amp`) and channels-last order. Launched by `torchrun` it trains with DistributedDataParallel, the backend
following the device (NCCL with one GPU per rank, gloo on the CPU): each process reads its own shard of the
clips, the epoch's metrics are summed over the ranks, and only rank 0 evaluates and writes.

A run folder holds `log.jsonl` (one line per epoch, with its clips/s and the share of the time spent waiting
for data), `last.pt` (resumable: optimizer and epoch inside) and `best.pt` (best validation top-1); both are
stsm-edge checkpoints `load_model` reads, holding CPU tensors whatever device trained them.
"""

from __future__ import annotations

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

from stsm_edge.checkpoints import load_state_dict, load_weights, read_checkpoint, save_checkpoint
from stsm_edge.data.annotations import read_annotations, read_labels
from stsm_edge.data.augment import ClipAugment, label_swap_map
from stsm_edge.data.dataset import VideoClipDataset, make_loader
from stsm_edge.fit.config import TrainConfig
from stsm_edge.fit.device import Accelerator
from stsm_edge.models import TemporalSegmentNetwork, build_model
from stsm_edge.options import DeviceConfig
from stsm_edge.preprocess import PreprocessSpec
from stsm_edge.timebase import MEASURED_CLIPS, TimeStep, training_time_step
from stsm_edge.video import video_info


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
    clips_per_second: float  # training clips of all ranks per second of the epoch's training (validation apart)
    data_wait: float  # share of that time the loop waited for its next batch (the data path setting the pace)
    device: str


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


Objective = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""What a step minimises: (logits, clips, targets) -> (loss, hits), hits (a 0-d tensor, left on the device so that
no step waits for it) counting top-1s that match the objective's reference (the labels, or a teacher's choice)."""


def supervised(logits: torch.Tensor, clips: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return nn.functional.cross_entropy(logits, targets), (logits.argmax(1) == targets).sum()


def train_step(model: nn.Module, clips: torch.Tensor, labels: torch.Tensor, optimizer: torch.optim.Optimizer,
               objective: Objective = supervised, frozen_batchnorm: bool = False,
               accelerator: Accelerator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step on batches already on the accelerator's device (default: the CPU in fp32); returns the batch
    loss and its number of top-1 hits as tensors. `frozen_batchnorm` keeps BatchNorm on its running statistics
    (TSM's partial BN, for all layers): the affine parameters still learn."""
    accelerator = accelerator or Accelerator.cpu()
    model.train()
    if frozen_batchnorm:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
    with accelerator.autocast():
        loss, hits = objective(model(clips), clips, labels)
    accelerator.step(loss, optimizer, model.parameters())
    return loss.detach(), hits


@torch.no_grad()
def accuracy(model: nn.Module, loader, accelerator: Accelerator) -> float:
    model.eval()
    correct, total = torch.zeros((), dtype=torch.int64, device=accelerator.device), 0
    for clips, labels in loader:
        with accelerator.autocast():
            logits = model(accelerator.batch(clips))
        correct += (logits.argmax(1) == accelerator.batch(labels)).sum()
        total += len(labels)
    return int(correct) / max(total, 1)


def _flip_pairs(config: TrainConfig) -> tuple[tuple[str, str], ...]:
    if config.flip_pairs is not None:
        return config.flip_pairs
    meta = Path(config.data) / "meta.json"
    return tuple(tuple(p) for p in json.loads(meta.read_text()).get("flip_pairs", [])) if meta.exists() else ()


def join_process_group(accelerator: Accelerator) -> tuple[int, int]:
    """(rank, world size); under torchrun (one process or more) this process joins the group with the backend that
    its device takes: NCCL bound to its GPU, or gloo on the CPU."""
    if not accelerator.placement.launch.launched:
        return 0, 1
    if not dist.is_initialized():
        if accelerator.device.type == "cuda":
            dist.init_process_group(accelerator.placement.backend, device_id=accelerator.device)
        else:
            dist.init_process_group(accelerator.placement.backend)
    return dist.get_rank(), dist.get_world_size()


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
    accelerator: Accelerator
    objective: Objective = supervised
    extra: dict = field(default_factory=dict)  # more for the checkpoints (e.g. the distillation settings)
    frozen_batchnorm: bool = False


def train(config: TrainConfig, resume: str | Path | None = None, log=print,
          after_epoch: Callable[[int, TemporalSegmentNetwork], None] | None = None,
          device: DeviceConfig | None = None) -> Path:
    """Train; returns the path of the best checkpoint (best.pt; last.pt when there is no val split).

    `after_epoch(epoch, model)` runs on rank 0 after each epoch's checkpoints are written (a study's own
    per-epoch evaluation); the model is in eval mode, on the run's device, and must not be changed.
    """
    accelerator = Accelerator.open(device)  # a device that cannot be had is refused before anything is read
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
    fit = Fit(config, model, labels, spec, report_time_step(config, train_records, log), train_set, val_set,
              accelerator)
    return run_fit(fit, resume, log, after_epoch)


def report_time_step(config: TrainConfig, records, log) -> TimeStep | None:
    """The run's time step, measured and logged on rank 0 (the only rank that writes checkpoints)."""
    if int(os.environ.get("RANK", "0")) != 0:
        return None
    time_step = measure_time_step(config, records)
    log(f"model time step: {time_step.describe()}" if time_step else
        "model time step unknown: the training clips have no frame rate (image folders?); set --step-ms at export")
    return time_step


@dataclass
class EpochTotals:
    """One epoch's training on this process: summed loss and hits, clips, and where its time went."""

    loss_sum: float
    hits: int
    clips: int
    seconds: float
    waited: float  # seconds spent waiting for the loader's next batch

    def all_reduced(self, device: torch.device) -> EpochTotals:
        """Summed over the ranks (seconds too: divide by the world size for the mean)."""
        values = torch.tensor([self.loss_sum, self.hits, self.clips, self.seconds, self.waited], dtype=torch.float64,
                              device=device)
        dist.all_reduce(values)
        loss_sum, hits, clips, seconds, waited = values.tolist()
        return EpochTotals(loss_sum, int(hits), int(clips), seconds, waited)


def fit_epoch(fit: Fit, net: nn.Module, loader, optimizer: torch.optim.Optimizer, epoch: int, steps: int,
              bar=None) -> EpochTotals:
    """`steps` SGD steps of `epoch` over `loader` on the fit's device. The loss and hits stay on the device until
    the epoch ends, so the host never waits for a step; the time spent waiting for batches is measured apart."""
    accelerator = fit.accelerator
    loss_sum = torch.zeros((), device=accelerator.device)
    hits = torch.zeros((), dtype=torch.int64, device=accelerator.device)
    clips_seen, waited = 0, 0.0
    started = time.perf_counter()
    batches = iter(loader)  # workers start (or resume) here: part of the wait
    for step in range(steps):
        asked = time.perf_counter()
        clips, targets = next(batches)
        waited += time.perf_counter() - asked
        set_learning_rate(optimizer, learning_rate(fit.config, epoch + step / steps))
        loss, step_hits = train_step(net, accelerator.batch(clips), accelerator.batch(targets), optimizer,
                                     fit.objective, fit.frozen_batchnorm, accelerator)
        loss_sum += loss.float() * len(targets)
        hits += step_hits
        clips_seen += len(targets)
        if bar is not None:
            bar.update(1)
            if step % 10 == 0:  # reading the loss waits for the device: not every step
                bar.set_postfix(loss=f"{float(loss_sum) / clips_seen:.3f}")
    loss_total, hits_total = float(loss_sum), int(hits)  # waits for the epoch's last kernels, so the time is whole
    return EpochTotals(loss_total, hits_total, clips_seen, time.perf_counter() - started, waited)


def run_fit(fit: Fit, resume: str | Path | None = None, log=print,
            after_epoch: Callable[[int, TemporalSegmentNetwork], None] | None = None) -> Path:
    """The loop `train` and `distill` share: SGD over the train set on the fit's device (sharded under torchrun),
    then on rank 0 the val top-1, `last.pt`/`best.pt` and a `log.jsonl` line per epoch. `resume` continues from
    a `last.pt` (whichever device wrote it)."""
    config, model, accelerator = fit.config, fit.model, fit.accelerator
    rank, world = join_process_group(accelerator)
    out = Path(config.out)
    start_epoch, best = 0, -1.0
    accelerator.prepare(model)
    optimizer = make_optimizer(model, config)
    if resume:
        state = read_checkpoint(Path(resume))
        load_state_dict(model, state["state_dict"], str(resume))
        optimizer.load_state_dict(state["optimizer"])  # its state moves to the parameters' device
        if "grad_scaler" in state and accelerator.scaler.is_enabled():
            accelerator.scaler.load_state_dict(state["grad_scaler"])
        start_epoch, best = int(state["epoch"]) + 1, float(state.get("best_val_top1", -1.0))
    train_set = fit.train_set
    sampler = DistributedSampler(train_set, world, rank, shuffle=True, seed=config.seed) if world > 1 else None
    loading = dict(workers=config.workers, pin_memory=accelerator.pin_memory, prefetch=config.prefetch)
    train_loader = make_loader(train_set, config.batch_size, shuffle=sampler is None, sampler=sampler, **loading)
    val_loader = None
    if fit.val_set is not None and rank == 0:
        val_loader = make_loader(fit.val_set, config.batch_size, shuffle=False, **loading)
    net = model
    if dist.is_initialized():
        net = DistributedDataParallel(model, device_ids=[accelerator.device] if accelerator.device.type == "cuda"
                                      else None)

    steps_per_epoch = len(train_loader) if config.max_steps_per_epoch is None else min(
        len(train_loader), config.max_steps_per_epoch)
    for epoch in range(start_epoch, config.epochs):
        train_set.set_epoch(epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        started = time.perf_counter()
        bar = _progress(steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}", enabled=rank == 0)
        totals = fit_epoch(fit, net, train_loader, optimizer, epoch, steps_per_epoch, bar)
        bar.close()
        ranks = 1
        if dist.is_initialized():
            totals, ranks = totals.all_reduced(accelerator.device), dist.get_world_size()
        if rank == 0:
            val_top1 = accuracy(model, val_loader, accelerator) if val_loader is not None else None
            train_top1 = totals.hits / max(totals.clips, 1)
            entry = EpochLog(epoch, learning_rate(config, epoch), totals.loss_sum / max(totals.clips, 1), train_top1,
                             val_top1, round(time.perf_counter() - started, 1), world, steps_per_epoch,
                             clips_per_second=round(totals.clips * ranks / max(totals.seconds, 1e-9), 2),
                             data_wait=round(totals.waited / max(totals.seconds, 1e-9), 4),
                             device=accelerator.describe() + (f", {dist.get_backend()} x{ranks}" if
                                                              dist.is_initialized() else ""))
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
                f"val top-1 {val_text}, {entry.seconds:.0f} s, {entry.clips_per_second:.1f} clips/s "
                f"({entry.data_wait:.0%} waiting for data) on {entry.device}")
        if dist.is_initialized():
            dist.barrier()
    if dist.is_initialized():
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
        if fit.accelerator.scaler.is_enabled():
            extra["grad_scaler"] = fit.accelerator.scaler.state_dict()
    save_checkpoint(fit.model, path, fit.labels, fit.spec, extra, fit.time_step)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, leave=False, disable=not enabled, dynamic_ncols=True)
