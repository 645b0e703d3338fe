"""The runner, `stsm-edge run` and the webcam script on real videos, with a small checkpoint (eager, and as ExecuTorch
streams whose states are carried or kept inside the program)."""

import os
import shutil

import cv2
import numpy as np
import pytest
import torch
from small_models import LABELS, SPEC, T

from stsm_edge.assets import video_path
from stsm_edge.checkpoints import ModelBundle, load_model, save_checkpoint
from stsm_edge.errors import ArtifactError, InputError
from stsm_edge.models import stsm_mobilenet_v2
from stsm_edge.preprocess import PreprocessSpec, preprocess
from stsm_edge.runner import FrameBufferRunner
from stsm_edge.runtimes.base import open_runtime
from stsm_edge.runtimes.torch import TorchRuntime
from stsm_edge.sidecar import read_sidecar, write_sidecar
from stsm_edge.smoothing import RECOMMENDED, RECOMMENDED_SOURCE, SmoothingConfig, SmoothingFlags
from stsm_edge.timebase import TimeStep
from stsm_edge.video import iter_video

SMALL_ARTIFACT_TARGET = "executorch"  # the small model's exports these tests check (tests/conftest.py groups by it)


@pytest.fixture(scope="module")
def checkpoint(small_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "small_causal.pt"
    save_checkpoint(small_model, path, labels=LABELS, preprocess=SPEC, time_step=TimeStep(1 / 6, 0.0, "test"))
    return path


def small_runner(checkpoint, **kwargs):
    """A runner that takes every frame as a model step (these tests are about steps, not their pacing)."""
    return FrameBufferRunner.open(checkpoint, **{"pacing": False, **kwargs})


@pytest.fixture(scope="module")
def frames():
    return list(iter_video(video_path("cup.mp4"), max_frames=30))


def test_streaming_runner_equals_the_causal_clip_model(checkpoint, frames):
    runner = small_runner(checkpoint, top_k=1)
    model = load_model(checkpoint).model
    stream_raw = [runner.step(f).raw_top[0] for f in frames[:T]]
    x = torch.from_numpy(np.stack([preprocess(f, SPEC) for f in frames[:T]]))[None]
    with torch.no_grad():
        clip = model(x, return_frame_logits=True)[0].softmax(-1)
    for t, (label, score) in enumerate(stream_raw):
        assert label == LABELS[int(clip[t].argmax())]
        assert abs(score - float(clip[t].max())) < 1e-5


def test_reset_restores_a_fresh_runner(checkpoint, frames):
    runner = small_runner(checkpoint)
    first = [runner.step(f) for f in frames[:10]]
    runner.reset()
    again = [runner.step(f) for f in frames[:10]]
    fresh = small_runner(checkpoint)
    third = [fresh.step(f) for f in frames[:10]]
    for a, b, c in zip(first, again, third):
        assert a.top == b.top == c.top and a.raw_top == b.raw_top == c.raw_top


@pytest.fixture(scope="module")
def executorch_streams(small_artifact):
    """The checkpoint's fp32 ExecuTorch stream, states carried (explicit) and kept inside the program (internal)."""
    return {state: small_artifact("executorch", "stream", "fp32", state).path for state in ("explicit", "internal")}


def test_runner_streams_a_program_that_keeps_its_states_inside_like_one_that_carries_them(executorch_streams,
                                                                                         checkpoint, frames):
    runners = {state: small_runner(path, top_k=3) for state, path in executorch_streams.items()}
    eager = small_runner(checkpoint, top_k=3)
    for frame in frames[:12]:
        internal, explicit, reference = (r.step(frame) for r in (runners["internal"], runners["explicit"], eager))
        assert [label for label, _ in internal.raw_top] == [label for label, _ in explicit.raw_top]
        assert [label for label, _ in internal.raw_top] == [label for label, _ in reference.raw_top]
        assert np.allclose([p for _, p in internal.raw_top], [p for _, p in explicit.raw_top], atol=1e-5)
        assert internal.label == explicit.label and abs(internal.score - explicit.score) < 1e-5


def test_a_runner_starts_its_stream_from_zero_states_inside_the_program(executorch_streams, frames):
    """The runner resets the program when it starts and on reset, whatever ran through the program before."""
    fresh_runner = small_runner(executorch_streams["internal"])
    fresh = [fresh_runner.step(f) for f in frames[:6]]
    used = open_runtime(executorch_streams["internal"])
    used.stream([preprocess(f, SPEC)[None] for f in frames[10:16]], [])  # leaves states from other frames inside
    runner = FrameBufferRunner(used, pacing=False)
    again = [runner.step(f) for f in frames[:6]]
    runner.reset()
    third = [runner.step(f) for f in frames[:6]]
    for a, b, c in zip(fresh, again, third):
        assert a.raw_top == b.raw_top == c.raw_top


def test_clip_form_runs_a_clip_every_stride(checkpoint, frames):
    runtime = TorchRuntime(checkpoint, bundle=load_model(checkpoint), form="clip")
    runner = FrameBufferRunner(runtime, stride=2, pacing=False)
    ran = [runner.step(f).ran_model for f in frames[:10]]
    assert ran == [False, False, False, True, False, True, False, True, False, True]


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_two_thousand_frames_leave_memory_flat(checkpoint, frames):
    runner = small_runner(checkpoint)
    for f in frames[:30]:  # warm-up: allocator pools, thread pools
        runner.step(f)
    before = rss_bytes()
    for i in range(2000):
        runner.step(frames[i % len(frames)])
    growth = rss_bytes() - before
    assert growth < 64 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB over 2,000 frames"


def test_frames_of_any_size_gray_and_bgra_are_converted(checkpoint):
    runner = small_runner(checkpoint)
    for frame in (np.full((50, 300), 128, np.uint8), np.zeros((480, 64, 4), np.uint8), np.zeros((7, 9, 3), np.uint8)):
        assert runner.step(frame).ran_model


@pytest.mark.parametrize("frame, message", [
    (np.zeros((64, 64), np.uint16), "8-bit"),
    (np.zeros((64, 64, 2), np.uint8), "not a grayscale, BGR or BGRA"),
    (np.zeros((0, 0, 3), np.uint8), "empty"),
])
def test_unusable_frames_are_refused(checkpoint, frame, message):
    with pytest.raises(InputError, match=message):
        small_runner(checkpoint).step(frame)


def test_wrong_artifact_type_is_refused(tmp_path):
    bogus = tmp_path / "model.txt"
    bogus.write_text("hello")
    with pytest.raises(ArtifactError, match="unknown artifact type '.txt'"):
        FrameBufferRunner.open(bogus)


def bad_videos(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mp4"
    # Seeded: unseeded random bytes are, once in a while, probed as some container that yields a frame.
    corrupt.write_bytes(np.random.default_rng(0).bytes(50_000))
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(video_path("cup.mp4").read_bytes()[:2_000])
    zero_frames = tmp_path / "zero_frames.avi"
    writer = cv2.VideoWriter(str(zero_frames), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 64))
    writer.release()
    return {"missing": tmp_path / "missing.mp4", "empty": empty, "corrupt": corrupt, "truncated": truncated,
            "zero_frames": zero_frames}


def test_bad_videos_are_one_line_errors(checkpoint, tmp_path, cli):
    for name, path in bad_videos(tmp_path).items():
        result = cli("run", path, "--model", checkpoint, "--quiet")
        assert result.returncode == 2, (name, result.stderr)
        error = result.stderr.strip()
        assert error.startswith("stsm-edge: error:") and "\n" not in error, (name, error)


def test_wrong_model_file_is_one_line_error(tmp_path, cli):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not onnx")
    result = cli("run", video_path("cup.mp4"), "--model", model, "--quiet")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr


def test_run_writes_predictions_and_annotated_video(checkpoint, tmp_path, cli):
    out, predictions = tmp_path / "annotated.mp4", tmp_path / "predictions.csv"
    result = cli("run", video_path("cup.mp4"), "--model", checkpoint, "--max-frames", 25, "--out", out,
                 "--predictions", predictions, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "25 frames (0.9 s of video), stream form on torch" in result.stdout and "label timeline" in result.stdout
    assert len(predictions.read_text().splitlines()) == 26
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 25


def test_webcam_headless_on_a_video_records_every_frame_with_overlay(checkpoint, tmp_path, cli):
    record = tmp_path / "webcam.mp4"
    source = video_path("cup.mp4")
    result = cli("webcam", "--model", checkpoint, "--source", source, "--headless", "--record", record)
    assert result.returncode == 0, result.stderr
    expected = int(cv2.VideoCapture(str(source)).get(cv2.CAP_PROP_FRAME_COUNT))
    recorded = cv2.VideoCapture(str(record))
    assert int(recorded.get(cv2.CAP_PROP_FRAME_COUNT)) == expected
    ok, annotated = recorded.read()
    original = next(iter_video(source))
    assert ok and annotated.shape == original.shape
    # The overlay panel darkens the top-left corner; the rest of the picture is the video itself.
    assert annotated[5:40, 5:200].mean() < 0.6 * original[5:40, 5:200].mean()
    assert abs(float(annotated[300:, 400:].mean()) - float(original[300:, 400:].mean())) < 8


def test_webcam_without_camera_names_the_device(checkpoint, tmp_path, cli):
    result = cli("webcam", "--model", checkpoint, "--camera", 99, "--headless", "--record", tmp_path / "x.mp4")
    assert result.returncode == 2
    assert "camera 99 (/dev/video99) cannot be opened" in result.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_runner_takes_any_frame_size_for_an_in_memory_model():
    model = stsm_mobilenet_v2(num_classes=3, n_segments=4, causal=True, width_mult=0.35)
    bundle = ModelBundle(model, ["a", "b", "c"], PreprocessSpec.for_size(64, 64), {})
    runner = FrameBufferRunner(TorchRuntime("mem.pt", bundle=bundle))
    assert runner.step(np.zeros((100, 120, 3), np.uint8)).ran_model


# ---- smoothing in seconds ---------------------------------------------------------------------------

def test_smoothing_in_seconds_keeps_the_same_seconds_at_any_model_step(checkpoint, frames):
    """The same model paced at 1/6 s and at 1/12 s with --smooth-s 0.67: its label averages the last 4 and the
    last 8 steps' logits (0.67 s both times), which a step count would not."""
    for step, steps in ((1 / 6, 4), (1 / 12, 8)):
        runner = FrameBufferRunner.open(checkpoint, smoothing=SmoothingFlags(smooth_s=0.67, min_hold_s=0.0),
                                        top_k=len(LABELS), step_seconds=step)
        assert runner.smoother.config.window == steps and runner.history_seconds == pytest.approx(0.67, abs=0.01)
        history = []
        for i, frame in enumerate(frames * 2):  # 2 s at 30 fps: 12 steps at 1/6 s, 24 at 1/12 s
            shown = runner.step(frame, i / 30)
            if not shown.model_step:
                continue
            history.append(np.log([dict(shown.raw_top)[label] for label in LABELS]))
            expected = np.exp(np.mean(history[-steps:], axis=0))
            expected /= expected.sum()
            assert np.allclose([dict(shown.top)[label] for label in LABELS], expected, atol=1e-5), (step, i)
        assert len(history) > 2 * steps


def test_run_flags_in_seconds_and_their_step_aliases(checkpoint):
    from stsm_edge.app.cli import _runner, build_parser

    def window(*flags):
        args = build_parser().parse_args(["run", "x.mp4", "--model", str(checkpoint), *flags])
        return _runner(args).smoother.config

    assert window("--smooth-s", "0.67").window == 4  # the checkpoint records 1/6 s
    assert window("--smooth-s", "0.67", "--step-ms", "83.333").window == 8
    assert window("--smooth-window", "12", "--step-ms", "83.333").window == 12  # steps stay steps
    assert window("--min-hold-s", "0.5", "--step-ms", "83.333").min_hold == 6
    assert window() == RECOMMENDED.steps(1 / 6)  # TorchRuntime's sidecar recommends RECOMMENDED


def test_the_runner_takes_the_sidecars_recommended_smoothing_unless_a_flag_overrides_it(executorch_streams,
                                                                                          tmp_path):
    source = executorch_streams["explicit"]
    exported = read_sidecar(source)
    assert exported["smoothing"] == {**RECOMMENDED.to_dict(), "source": RECOMMENDED_SOURCE}
    artifact = tmp_path / source.name
    shutil.copy(source, artifact)
    write_sidecar(artifact, {**exported, "time_step": {"seconds": 0.1},
                             "smoothing": {"smooth_s": 1.0, "min_hold_s": 0.3, "margin": 0.2}})
    assert FrameBufferRunner.open(artifact).smoother.config == SmoothingConfig(10, 1, 3, 0.0, 0.2)
    assert FrameBufferRunner.open(artifact, smoothing=SmoothingFlags(smooth_s=0.5)).smoother.config.window == 5
    assert FrameBufferRunner.open(artifact, smoothing=SmoothingFlags(margin=0.0)).smoother.config.margin == 0.0
    # A sidecar from before the field: the toolkit's recommendation, at the artifact's step.
    write_sidecar(artifact, {k: v for k, v in exported.items() if k not in ("smoothing", "schema", "version")})
    assert FrameBufferRunner.open(artifact).smoother.config == RECOMMENDED.steps(1 / 6)
    with pytest.raises(ArtifactError, match="smoothing.smooth_s"):
        write_sidecar(artifact, {**exported, "smoothing": {"smooth_s": -1, "min_hold_s": 0}})
