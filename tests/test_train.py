"""The motion benchmark generator, training (single process and torchrun/DDP) and evaluation, on tiny real runs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from stsm_edge.checkpoints import load_model
from stsm_edge.data.annotations import read_annotations, read_labels
from stsm_edge.data.dataset import VideoClipDataset
from stsm_edge.data.motion import FLIP_PAIRS, MOTION_CLASSES, MotionSpec, _trajectory, make_motion_data
from stsm_edge.data.sources import read_frames
from stsm_edge.fit.config import TrainConfig
from stsm_edge.fit.train import learning_rate, make_optimizer, set_learning_rate, train, train_step
from stsm_edge.models import build_model
from stsm_edge.preprocess import PreprocessSpec

TINY_SPEC = MotionSpec(size=48, frames=8)
TINY_TRAIN = dict(n_segments=4, size=32, width_mult=0.35, pretrained="none", batch_size=4, workers=0)


@pytest.fixture(scope="module")
def motion_data(tmp_path_factory) -> Path:
    return make_motion_data(tmp_path_factory.mktemp("motion") / "data", seed=3, clips_per_class=2, spec=TINY_SPEC)


# ---- the motion benchmark -------------------------------------------------------------------------

def test_generator_writes_splits_lists_and_labels(motion_data):
    assert read_labels(motion_data / "labels.txt") == list(MOTION_CLASSES)
    for split, per_class in (("train", 2), ("val", 2), ("test", 2)):
        records = read_annotations(motion_data / f"{split}.txt")
        assert len(records) == per_class * len(MOTION_CLASSES)
        assert sorted({r.label for r in records}) == list(range(len(MOTION_CLASSES)))
        frames = read_frames(records[0].path)
        assert len(frames) == records[0].num_frames == TINY_SPEC.frames
        assert frames[0].shape == (TINY_SPEC.size, TINY_SPEC.size, 3)
    assert json.loads((motion_data / "meta.json").read_text())["flip_pairs"] == [list(p) for p in FLIP_PAIRS]


def test_generator_is_deterministic_by_seed(motion_data, tmp_path):
    again = make_motion_data(tmp_path / "again", seed=3, clips_per_class=2, spec=TINY_SPEC)
    other = make_motion_data(tmp_path / "other", seed=4, clips_per_class=2, spec=TINY_SPEC)
    first = read_annotations(motion_data / "test.txt")[5].path.relative_to(motion_data)
    same = [np.stack(read_frames(root / first)) for root in (motion_data, again)]
    assert (motion_data / "test.txt").read_text() == (again / "test.txt").read_text()
    assert np.array_equal(*same)
    assert not np.array_equal(same[0], np.stack(read_frames(other / first)))


@pytest.mark.parametrize("forward, backward", [("swipe left", "swipe right"), ("swipe up", "swipe down"),
                                               ("zoom in", "zoom out"), ("rotate clockwise", "rotate anticlockwise")])
def test_opposite_classes_are_the_same_motion_played_backwards(forward, backward):
    """What makes single frames useless: a class's trajectory reversed in time is its opposite's."""
    spec = MotionSpec()
    a = _trajectory(forward, spec.frame_times(), spec, np.random.default_rng(1))
    b = _trajectory(backward, spec.frame_times(), spec, np.random.default_rng(1))
    for x, y in zip(a, b):
        assert np.allclose(np.asarray(x)[::-1] * np.ones(spec.frames), np.asarray(y) * np.ones(spec.frames))
    assert any(np.ptp(np.asarray(x) * np.ones(spec.frames)) > 0 for x in a)  # and it does move


def test_swipe_right_moves_right_and_clockwise_turns_clockwise():
    spec = MotionSpec()
    dx, dy, _, _ = _trajectory("swipe right", spec.frame_times(), spec, np.random.default_rng(0))
    assert np.all(np.diff(dx) > 0) and not np.any(dy)
    _, _, scale, _ = _trajectory("zoom in", spec.frame_times(), spec, np.random.default_rng(0))
    assert np.all(np.diff(scale) > 0)
    _, _, _, angle = _trajectory("rotate clockwise", spec.frame_times(), spec, np.random.default_rng(0))
    assert np.all(np.diff(angle) < 0)  # OpenCV angles turn anticlockwise on screen


def test_make_motion_data_rejects_bad_counts_and_writes_nothing(tmp_path, cli):
    result = cli("make-motion-data", "--out", str(tmp_path / "m"), "--clips-per-class", "0")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "clips-per-class" in result.stderr
    assert not (tmp_path / "m").exists()


# ---- training ---------------------------------------------------------------------------------------

def test_a_width_the_imagenet_weights_do_not_fit_is_one_line_and_leaves_no_run_folder(motion_data, tmp_path, cli):
    result = cli("train", "--data", str(motion_data), "--out", str(tmp_path / "run"), "--width-mult", "0.5")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "width 1.0, not 0.5" in result.stderr, result.stderr
    assert "--pretrained none" in result.stderr and not (tmp_path / "run").exists()


def test_learning_rate_schedules():
    step = TrainConfig(data=".", out=".", schedule="step", lr=0.1, lr_steps=(2, 4), epochs=6, warmup_epochs=0)
    assert [round(learning_rate(step, e), 6) for e in (0, 1.9, 2, 3.5, 4, 5)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    cosine = TrainConfig(data=".", out=".", lr=0.1, epochs=4, warmup_epochs=1)
    assert learning_rate(cosine, 0) < 0.001 < learning_rate(cosine, 0.5) < learning_rate(cosine, 1)
    assert learning_rate(cosine, 4) == pytest.approx(0.0, abs=1e-12)


def test_no_weight_decay_on_batchnorm_and_biases():
    config = TrainConfig(data=".", out=".", **TINY_TRAIN)
    model = build_model(config.model_config(9))
    optimizer = make_optimizer(model, config)
    decay_of = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    assert decay_of[id(model.backbone.classifier[1].weight)] == config.weight_decay
    assert decay_of[id(model.backbone.features[0][1].weight)] == 0 == decay_of[id(model.backbone.classifier[1].bias)]
    assert len(decay_of) == len(list(model.parameters()))


def test_two_training_steps_lower_the_loss(motion_data):
    config = TrainConfig(data=str(motion_data), out=".", **TINY_TRAIN, dropout=0.0)
    model = build_model(config.model_config(len(MOTION_CLASSES)))
    clips = VideoClipDataset(read_annotations(motion_data / "train.txt")[:4], 4, PreprocessSpec.for_size(32, 32),
                             train=False)
    batch = torch.stack([clips[i][0] for i in range(4)]), torch.tensor([clips[i][1] for i in range(4)])
    optimizer = make_optimizer(model, config)
    set_learning_rate(optimizer, 0.01)

    def loss_now() -> float:
        model.eval()
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(model(batch[0]), batch[1]).item()

    before = loss_now()
    for _ in range(2):
        train_step(model, *batch, optimizer)
    assert loss_now() < before


def test_train_writes_checkpoints_and_log_and_resumes(motion_data, tmp_path):
    config = TrainConfig(data=str(motion_data), out=str(tmp_path / "run"), epochs=2, max_steps_per_epoch=2,
                         **TINY_TRAIN)
    first = TrainConfig(**{**config.__dict__, "epochs": 1})
    best = train(first, log=lambda _: None)
    assert best.name == "best.pt" and (tmp_path / "run" / "last.pt").exists()
    bundle = load_model(best)
    assert bundle.labels == list(MOTION_CLASSES) and bundle.preprocess.size == (32, 32)
    assert bundle.model.config.causal and bundle.model.config.dims == "THW"
    train(config, resume=tmp_path / "run" / "last.pt", log=lambda _: None)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [entry["epoch"] for entry in log] == [0, 1]
    assert all(entry["steps"] == 2 and entry["world_size"] == 1 and entry["val_top1"] is not None for entry in log)


@pytest.mark.slow
def test_torchrun_trains_with_two_gloo_processes(motion_data, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
         "-m", "stsm_edge", "train", "--data", str(motion_data), "--out", str(out), "--epochs", "1",
         "--segments", "4", "--size", "32", "--width-mult", "0.35", "--pretrained", "none", "--batch-size", "3",
         "--workers", "0", "--method", "tsm"],
        capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    (entry,) = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    train_clips = len(read_annotations(motion_data / "train.txt"))
    # Each process trains on its half of the clips: the step count is that of one shard, not of the whole set.
    assert entry["world_size"] == 2 and entry["steps"] == math.ceil(math.ceil(train_clips / 2) / 3)
    config = load_model(out / "best.pt").model.config
    assert config.dims == "T" and config.width_mult == 0.35


# ---- evaluation ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_checkpoint(motion_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    config = TrainConfig(data=str(motion_data), out=str(out), epochs=1, max_steps_per_epoch=3, **TINY_TRAIN)
    return train(config, log=lambda _: None)


def test_eval_prints_top1_and_writes_a_confusion_matrix(tiny_checkpoint, motion_data, tmp_path, cli):
    png = tmp_path / "confusion.png"
    result = cli("eval", "--checkpoint", str(tiny_checkpoint), "--data", str(motion_data / "test.txt"),
                     "--confusion", str(png), "--quiet")
    assert result.returncode == 0, result.stderr
    top1 = float(next(line for line in result.stdout.splitlines() if line.startswith("top-1:")).split()[1].rstrip("%"))
    from stsm_edge.fit.evaluate import evaluate
    from stsm_edge.runtimes.base import open_runtime

    expected = evaluate(open_runtime(tiny_checkpoint), motion_data / "test.txt").top1
    assert top1 == pytest.approx(expected * 100, abs=0.005)  # the printed figure is the evaluation's, to 2 decimals
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_of_an_fp32_artifact_matches_its_checkpoint(tiny_checkpoint, motion_data, tmp_path, cli):
    """Streaming .onnx fp32 vs the eager checkpoint on the same clips: the same predictions, clip by clip."""
    from stsm_edge.fit.evaluate import evaluate
    from stsm_edge.runtimes.base import open_runtime

    listed = str(motion_data / "train.txt")
    result = cli("export", "--checkpoint", str(tiny_checkpoint), "--target", "onnx", "--precision", "fp32",
                     "--form", "stream", "--calib", listed, "--verify", listed, "--verify-frames", "32",
                     "--out", str(tmp_path), "--quiet", "--weak-verify")  # the tiny model barely uses time
    assert result.returncode == 0, result.stderr
    (artifact,) = tmp_path.glob("*.onnx")
    eager = evaluate(open_runtime(tiny_checkpoint), motion_data / "test.txt")
    exported = evaluate(open_runtime(artifact), motion_data / "test.txt")
    assert np.array_equal(eager.confusion, exported.confusion)
    assert eager.count == len(read_annotations(motion_data / "test.txt"))


def test_eval_refuses_labels_outside_the_model(tiny_checkpoint, tmp_path, cli):
    bad = tmp_path / "bad.txt"
    bad.write_text("clip.mp4 8 42\n")
    result = cli("eval", "--checkpoint", str(tiny_checkpoint), "--data", str(bad))
    assert result.returncode == 2 and "outside the model" in result.stderr
