"""What each fitting and scoring job takes, as the command line gives it: `train` (TrainConfig), `distill`
(DistillConfig), `eval` (EvalSettings, LiveSettings for --live). Torch-free and checked on construction, so
`--help` and a bad flag answer at once, before anything heavy loads; the jobs import their own tools."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from stsm_edge.architectures import METHODS, ShiftConfig, resolve_shift
from stsm_edge.data.sampling import SAMPLINGS
from stsm_edge.errors import InputError
from stsm_edge.options import (
    DATA,
    STEP_MS,
    TEACHER,
    TEMPERATURE,
    FitFlags,
    ForeignFlags,
    ModelFlags,
    RunnerFlags,
    ShiftFlags,
    option,
)
from stsm_edge.timebase import step_from_ms

if TYPE_CHECKING:
    from stsm_edge.data.dataset import VideoClipDataset
    from stsm_edge.models import ModelConfig, TemporalSegmentNetwork
    from stsm_edge.preprocess import PreprocessSpec


def flip_pair(text: str) -> tuple[str, str]:
    """`A:B`, two labels a horizontal flip swaps."""
    if text.count(":") != 1:
        raise argparse.ArgumentTypeError(f"expected A:B, got {text!r}")
    first, second = text.split(":")
    return first, second


@dataclass
class TrainConfig:
    data: str = DATA.use("folder with train.txt, labels.txt and optionally val.txt").field()
    out: str = FitFlags.out.field()
    method: str = ShiftFlags.method.field("stsm_causal")
    dims: str | None = ShiftFlags.dims.field(None)
    fold_div: int | None = ShiftFlags.fold_div.field(None)
    causal: bool | None = ShiftFlags.causal.field(None)
    n_segments: int = ModelFlags.segments.field(8)
    backbone: str = ModelFlags.backbone.field("mobilenet_v2")
    width_mult: float = ModelFlags.width_mult.field(1.0)
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
    prefetch: int = FitFlags.prefetch.field(2)
    frame_cache: str | None = FitFlags.frame_cache.field(None)
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
        if self.workers < 0 or self.prefetch < 1:
            raise InputError("--workers must be >= 0 and --prefetch >= 1")

    @property
    def shift(self) -> ShiftConfig:
        return resolve_shift(self.method, self.dims, self.fold_div, self.causal)

    @property
    def step_seconds(self) -> float | None:
        return None if self.step_ms is None else self.step_ms / 1e3

    def dataset(self, records, spec: PreprocessSpec, *, train: bool, **kwargs) -> VideoClipDataset:
        """Clips sampled as this run samples them, for training (random offsets) or validation (centred)."""
        from stsm_edge.data.dataset import VideoClipDataset
        from stsm_edge.data.frame_cache import FrameCache

        cache = FrameCache(Path(self.frame_cache)) if self.frame_cache else None
        return VideoClipDataset(records, self.n_segments, spec, train=train, sampling=self.sampling,
                                dense_stride=self.dense_stride, step_seconds=self.step_seconds, frame_cache=cache,
                                **kwargs)

    def model_config(self, num_classes: int) -> ModelConfig:
        from stsm_edge.models import ModelConfig

        shift = self.shift
        return ModelConfig(backbone=self.backbone, num_classes=num_classes, n_segments=self.n_segments,
                           dims=shift.dims, fold_div=shift.fold_div, causal=shift.causal, width_mult=self.width_mult,
                           dropout=self.dropout)


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
    frame_cache: str | None = FitFlags.frame_cache.field(None)
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
                           prefetch=self.prefetch, frame_cache=self.frame_cache, seed=self.seed, step_ms=self.step_ms,
                           max_steps_per_epoch=self.max_steps_per_epoch)


@dataclass(frozen=True)
class EvalSettings:
    data: str = DATA.use("annotation list (`path label` or `path num_frames label`)").field()
    limit: int | None = option(None, "only the first N clips")
    live: bool = option(False, "evaluate what a person sees: the clips as continuous streams (back to back, and "
                               "with 'no motion' pauses) through the runner with its smoothing; reaction time, "
                               "streaming accuracy, false switches (see --live-fps)")
    play_fps: float | None = option(None, "evaluate as deployed: play each clip through the runner as a live stream "
                                          "at N fps (resampled by timestamp) and score the label shown at its end")
    step_ms: float | None = STEP_MS.field(None)  # with --play-fps
    no_pacing: bool = RunnerFlags.no_pacing.field(False)  # with --play-fps
    threads: int | None = RunnerFlags.threads.field(None)

    def __post_init__(self) -> None:
        if self.play_fps is not None and self.play_fps <= 0:
            raise InputError(f"--play-fps must be > 0, got {self.play_fps:g}")
        if self.live and self.play_fps is not None:
            raise InputError("--live plays continuous streams at --live-fps; --play-fps is for clip by clip")


@dataclass(frozen=True)
class LiveSettings:
    fps: float = option(30.0, "with --live: the stream's frame rate (each clip filmed at it; render the clips at "
                              "it, make-motion-data --fps, for motion sampled at that rate)", flag="--live-fps")
    repeats: int = option(2, "with --live: each action's clip is played this many times in a row")
    pause_s: tuple[float, float] = option((0.5, 3.0), "with --live: a pause's length is drawn from [MIN, MAX] "
                                                      "seconds", flag="--pause-s")
    settle_s: float = option(0.5, "with --live: streaming accuracy 'after' skips each action's first N seconds")
    seed: int = option(0, "with --live: the order of actions and the pause lengths", flag="--stream-seed")

    def __post_init__(self) -> None:
        if self.fps <= 0 or self.repeats < 1 or self.settle_s < 0:
            raise InputError("--live-fps must be > 0, --repeats >= 1 and --settle-s >= 0")
        if len(self.pause_s) != 2 or not 0 < self.pause_s[0] <= self.pause_s[1]:
            raise InputError("--pause-s takes MIN MAX seconds with 0 < MIN <= MAX")
