"""The model's time step: measured in training, carried by checkpoints and sidecars, and kept live by pacing
the runner by timestamps (a 30 fps camera must not show a 1/6 s model motion 5x slower than it learnt)."""

import json

import cv2
import numpy as np
import pytest
from small_models import LABELS, SPEC, real_frames, small_causal_model

from stsm_edge.assets import video_path
from stsm_edge.checkpoints import ModelBundle, load_model, save_checkpoint
from stsm_edge.data.motion import MotionSpec, load_images, make_motion_data, render_clip
from stsm_edge.data.sampling import timed_indices
from stsm_edge.errors import InputError
from stsm_edge.fit.evaluate import played_frames
from stsm_edge.runner import FrameBufferRunner
from stsm_edge.runtimes.torch import TorchRuntime
from stsm_edge.timebase import DEFAULT_STEP_SECONDS, StepPacer, TimeStep, training_time_step
from stsm_edge.video import iter_video, iter_video_timed

SIXTH = 1 / 6


def steps_at(fps: float, seconds: float, step: float | None, jitter: float = 0.0, seed: int = 0) -> list[bool]:
    rng = np.random.default_rng(seed)
    pacer = StepPacer(step)
    return [pacer.is_step(i / fps + rng.uniform(-jitter, jitter)) for i in range(int(fps * seconds))]


# ---- the pacer ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fps", [12, 24, 25, 30, 60, 120])
def test_pacer_keeps_the_step_rate_at_any_frame_rate(fps):
    flags = steps_at(fps, 10.0, SIXTH, jitter=0.002)
    assert abs(sum(flags) / 10.0 - 6.0) <= 0.2, f"{sum(flags)} steps in 10 s at {fps} fps"


def test_pacer_off_steps_on_every_frame():
    assert all(steps_at(30, 2.0, None))


def test_pacer_picks_the_frames_on_the_schedule():
    assert [i for i, f in enumerate(steps_at(30, 1.0, SIXTH)) if f] == [0, 5, 10, 15, 20, 25]
    assert [i for i, f in enumerate(steps_at(12, 1.0, SIXTH)) if f] == [0, 2, 4, 6, 8, 10]


def test_pacer_restarts_after_a_gap_and_when_time_goes_back():
    pacer = StepPacer(SIXTH)
    assert [pacer.is_step(t) for t in (0.0, 0.1, 0.2, 2.0, 2.05, 2.1, 2.17)] == [True, False, True, True, False,
                                                                                  False, True]
    assert pacer.is_step(0.5)  # a new source restarted its clock
    assert not pacer.is_step(0.55)


def test_pacer_restarts_when_time_goes_back_from_the_last_frame_not_only_the_last_step():
    pacer = StepPacer(SIXTH)
    assert [pacer.is_step(t) for t in (0.0, 0.1, 0.05)] == [True, False, True]  # 0.05: back from 0.1, not from 0.0
    assert not pacer.is_step(0.1) and pacer.is_step(0.22)  # the schedule restarted at 0.05


def test_slower_input_than_the_step_takes_every_frame():
    assert all(steps_at(4, 3.0, SIXTH))


# ---- recording the step ------------------------------------------------------------------------------

def test_training_time_step_from_segment_dense_and_fixed_sampling():
    clips = [(12.0, 16), (12.0, 16), (24.0, 64)]
    segment = training_time_step(clips, 8, "segment")
    assert segment.seconds == pytest.approx((SIXTH * 2 + 1 / 3) / 3) and segment.spread > 0
    assert training_time_step(clips, 8, "dense", dense_stride=2).seconds == pytest.approx((2 / 12 * 2 + 2 / 24) / 3)
    fixed = training_time_step([], 8, "timed", step_seconds=0.2)
    assert (fixed.seconds, fixed.spread) == (0.2, 0.0)
    assert training_time_step([(0.0, 16)], 8, "segment") is None  # no frame rate known: unknown, not a guess


def test_timed_sampling_gives_the_same_times_at_any_frame_rate():
    for fps in (12, 24, 30, 60):
        frames = int(round(15 * fps / 12)) + 1  # the motion clip's 1.25 s span at this rate
        indices = timed_indices(frames, fps, 8, SIXTH, train=False)
        assert np.allclose(np.diff(indices) / fps, SIXTH, atol=0.5 / fps), fps
    train = timed_indices(16, 12.0, 8, SIXTH, train=True, rng=np.random.default_rng(0))
    assert np.array_equal(np.diff(train), [2] * 7)
    short = timed_indices(5, 12.0, 8, SIXTH, train=False)
    assert short.max() == 4 and np.all(np.diff(short) >= 0)  # holds the last frame, never wraps back


def test_motion_clips_render_the_same_trajectory_at_any_frame_rate():
    images = load_images()
    base = render_clip("swipe right", images, np.random.default_rng(5), MotionSpec(size=64))
    fast = render_clip("swipe right", images, np.random.default_rng(5), MotionSpec(size=64, render_fps=60))
    assert len(base) == 16 and len(fast) == 76  # the same 1.25 s from first to last frame
    # Frame 2k at 12 fps and frame 10k at 60 fps show the same instant: only sensor noise and distractor
    # wobble differ. A different time would move the object by pixels and differ far more.
    same_instant = np.mean([np.abs(base[2 * k].astype(int) - fast[10 * k].astype(int)).mean() for k in range(8)])
    other_instant = np.mean([np.abs(base[2 * k].astype(int) - fast[10 * k + 5].astype(int)).mean() for k in range(7)])
    assert same_instant < 0.6 * other_instant


@pytest.mark.slow
def test_training_records_the_time_step_and_export_copies_it(tmp_path, cli):
    data = make_motion_data(tmp_path / "m", seed=1, clips_per_class=2, spec=MotionSpec(size=48, frames=8))
    for extra, expected in (([], 8 / 12 / 4), (["--step-ms", "125"], 0.125)):
        out = tmp_path / f"run{len(extra)}"
        result = cli("train", "--data", data, "--out", out, "--size", 32, "--segments", 4, "--epochs", 1,
                     "--max-steps", 1, "--workers", 0, "--batch-size", 4, "--pretrained", "none", *extra)
        assert result.returncode == 0, result.stderr
        step = load_model(out / "last.pt").time_step
        assert step.seconds == pytest.approx(expected)
        assert f"model time step: {expected * 1e3:.1f} ms" in result.stdout
    exported = cli("export", "--checkpoint", tmp_path / "run2" / "last.pt", "--target", "onnx", "--form", "stream",
                   "--verify", video_path("cup.mp4"), "--verify-frames", 4, "--out", tmp_path / "out", "--quiet",
                   "--weak-verify")  # a one-step model barely uses time: its controls clear the bar too
    assert exported.returncode == 0, exported.stderr
    sidecar = json.loads(next((tmp_path / "out").glob("*.onnx.json")).read_text())
    assert sidecar["time_step"]["seconds"] == pytest.approx(0.125)
    overridden = cli("export", "--checkpoint", tmp_path / "run2" / "last.pt", "--target", "onnx", "--form", "stream",
                     "--verify", video_path("cup.mp4"), "--verify-frames", 4, "--out", tmp_path / "o2", "--quiet",
                     "--step-ms", 200, "--weak-verify")
    assert overridden.returncode == 0, overridden.stderr
    assert json.loads(next((tmp_path / "o2").glob("*.onnx.json")).read_text())["time_step"]["seconds"] == 0.2


# ---- the runner ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundle():
    model = small_causal_model(real_frames(24))
    return ModelBundle(model, LABELS, SPEC, {}, TimeStep(SIXTH, 0.0, "test"))


@pytest.fixture(scope="module")
def cup_frames():
    return list(iter_video(video_path("cup.mp4"), max_frames=40))


def test_runner_paces_a_30_fps_stream_to_the_model_step(bundle, cup_frames):
    runner = FrameBufferRunner(TorchRuntime("m.pt", bundle=bundle))
    predictions = [runner.step(cup_frames[i % 40], i / 30) for i in range(120)]  # 4 s at 30 fps
    steps = sum(p.model_step for p in predictions)
    assert abs(steps / 4.0 - 6.0) <= 1.0, f"{steps} model steps in 4 s"
    assert all(p.ran_model == p.model_step for p in predictions)
    held = next(p for p in predictions if not p.model_step)
    assert held.label == predictions[held.frame_index - 1].label  # the frames in between show the last label


def test_frames_between_steps_are_never_preprocessed(bundle, cup_frames):
    runner = FrameBufferRunner(TorchRuntime("m.pt", bundle=bundle))
    runner.step(cup_frames[0], 0.0)
    unusable = np.zeros((4, 4, 2), np.uint8)  # preprocessing refuses this frame
    assert not runner.step(unusable, 1 / 30).model_step
    with pytest.raises(InputError):
        runner.step(unusable, SIXTH)


def test_only_the_paced_steps_are_preprocessed(bundle, cup_frames, monkeypatch):
    """The real preprocessing, counted: a dropped frame costs no preprocessing at all, and each model step
    preprocesses its own frame once."""
    import stsm_edge.runner

    seen = []
    real = stsm_edge.runner.preprocess

    def counting(frame, spec):
        seen.append(frame)
        return real(frame, spec)

    monkeypatch.setattr(stsm_edge.runner, "preprocess", counting)
    runner = FrameBufferRunner(TorchRuntime("m.pt", bundle=bundle))
    predictions = [runner.step(cup_frames[i % 40], i / 30) for i in range(60)]  # 2 s at 30 fps
    steps = [p.frame_index for p in predictions if p.model_step]
    assert len(steps) == 12 and all(p.ran_model for p in predictions if p.model_step)
    assert len(seen) == len(steps)
    assert all(frame is cup_frames[i % 40] for frame, i in zip(seen, steps))


def test_pacing_off_and_the_override(bundle, cup_frames):
    off = FrameBufferRunner(TorchRuntime("m.pt", bundle=bundle), pacing=False)
    assert all(off.step(f, i / 30).model_step for i, f in enumerate(cup_frames[:12]))
    fast = FrameBufferRunner(TorchRuntime("m.pt", bundle=bundle), step_seconds=0.1)
    assert sum(fast.step(f, i / 30).model_step for i, f in enumerate(cup_frames[:30])) == 10


def test_clip_form_fills_its_buffer_at_the_pace(bundle, cup_frames):
    runner = FrameBufferRunner(TorchRuntime("m.pt", bundle=bundle, form="clip"))
    predictions = [runner.step(cup_frames[i], i / 30) for i in range(40)]
    ran = [p.frame_index for p in predictions if p.ran_model]
    # Steps come 5 frames apart at 30 fps; the first clip runs when T steps have filled the buffer.
    assert ran == list(range(5 * (bundle.model.n_segments - 1), 40, 5))


def test_a_model_without_a_time_step_warns_and_uses_the_default(bundle, caplog):
    foreign = ModelBundle(bundle.model, LABELS, SPEC, {})
    runner = FrameBufferRunner(TorchRuntime("foreign.pt", bundle=foreign))
    assert runner.time_step.seconds == DEFAULT_STEP_SECONDS
    assert "records no time step" in caplog.text


def test_run_paces_a_60_fps_video_and_reports_the_rate(bundle, tmp_path, cup_frames, cli):
    checkpoint = tmp_path / "m.pt"
    save_checkpoint(bundle.model, checkpoint, LABELS, SPEC, time_step=bundle.time_step)
    video = tmp_path / "sixty.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 60, (320, 240))
    for frame in cup_frames * 3:  # 120 frames = 2 s at 60 fps
        writer.write(cv2.resize(frame, (320, 240)))
    writer.release()
    assert [round(t, 4) for _, t in list(iter_video_timed(video))[:3]] == [0.0, 0.0167, 0.0333]
    predictions = tmp_path / "p.json"
    result = cli("run", video, "--model", checkpoint, "--quiet", "--predictions", predictions)
    assert result.returncode == 0, result.stderr
    assert "model time step 166.7 ms (6.0 steps/s, test)" in result.stdout
    rows = json.loads(predictions.read_text())
    assert sum(r["model_step"] for r in rows) == 12
    unpaced = cli("run", video, "--model", checkpoint, "--quiet", "--no-pacing")
    assert "120 model steps = 60.0 steps/s x" in unpaced.stdout


def test_played_frames_resample_by_timestamp(tmp_path, cup_frames):
    video = tmp_path / "twelve.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 12, (64, 48))
    for k in range(12):
        writer.write(np.full((48, 64, 3), 20 * k, np.uint8))
    writer.release()
    levels = [int(round(frame.mean() / 20)) for frame, _ in played_frames(video, 24)]
    assert levels == [k for k in range(12) for _ in range(2)][:23]  # each frame twice, over the same 11/12 s
    assert [int(round(f.mean() / 20)) for f, _ in played_frames(video, 6)] == [0, 2, 4, 6, 8, 10]
    assert len(played_frames(video, None)) == 12
