"""What every converter shares: registry, errors users can cause, no half-written files, the sidecar."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from small_models import LABELS, SPEC, T, real_frames, small_causal_model
from stsm_edge.converters.base import TARGETS, export_artifact, get_converter

from stsm_edge.data.sources import iter_frames
from stsm_edge.errors import ArtifactError, CalibrationError, ExportError, InputError
from stsm_edge.fileio import atomic_output
from stsm_edge.forms import build_form, clip_feeds, form_inputs
from stsm_edge.sidecar import read_sidecar, sidecar_path, validate_sidecar


@pytest.fixture(scope="module")
def frames():
    return real_frames(16, "box.mp4")


@pytest.fixture(scope="module")
def model(frames):
    return small_causal_model(frames)


def test_every_target_is_registered_with_its_suffix():
    suffixes = {target: get_converter(target).suffix for target in TARGETS}
    assert suffixes == {"executorch": ".pte", "coreml": ".mlpackage", "tflite": ".tflite", "onnx": ".onnx"}


def test_unknown_target_and_precision_are_clear_errors(model, frames, tmp_path):
    with pytest.raises(ExportError, match="unknown target 'tensorrt'"):
        get_converter("tensorrt")
    with pytest.raises(ExportError, match="no fp16 export"):
        export_artifact(model, "onnx", "stream", "fp16", tmp_path, frames, frames, LABELS, SPEC)


def test_fp32_onnx_export_writes_artifact_and_valid_sidecar(model, frames, tmp_path):
    result = export_artifact(model, "onnx", "stream", "fp32", tmp_path, [], frames[: 2 * T], LABELS, SPEC,
                             source={"checkpoint": "test"})
    sidecar = read_sidecar(result.path)
    assert result.parity["passed"] and sidecar["parity"]["vs_fp32"]["max_abs_diff"] <= 1e-4
    assert [i["name"] for i in sidecar["inputs"]][:2] == ["frame", "state_features_3"]
    assert sidecar["outputs"][1]["name"] == "new_state_features_3"
    assert sidecar["model"]["causal"] and sidecar["labels"] == LABELS and "torch" in sidecar["tools"]
    # Converted in the shift's deploy variant, yet equal to the training variant within 1e-4 (checked above).
    assert sidecar["shift_form"] == "deploy" and "stsm-edge converters" in sidecar["tools"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mobilenet_v2_stream_fp32.onnx", "mobilenet_v2_stream_fp32.onnx.json"]


def test_unwritable_output_dir_is_clear_and_leaves_nothing(model, frames, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores mode bits: use a path under a regular file instead
            locked = tmp_path / "a_file"
            locked.write_text("x")
            target = locked / "out"
        else:
            target = locked
        with pytest.raises(InputError, match="output directory|cannot create"):
            export_artifact(model, "onnx", "clip", "fp32", target, [], frames, LABELS, SPEC)
    finally:
        (tmp_path / "locked").chmod(0o700)
    assert not any(p.suffix in {".onnx", ".json"} for p in tmp_path.rglob("*"))


def test_failed_conversion_leaves_no_partial_file(model, frames, tmp_path):
    # A failure inside the converter, after it started writing: the exporter cannot run a module that
    # takes none of the job's inputs.
    from stsm_edge.converters.base import ExportJob

    converter = get_converter("onnx")
    job = ExportJob("bad", "stream", "fp32", torch.nn.Identity(), (torch.zeros(1), torch.zeros(1)), ["a", "b"],
                    ["c"], [], converter.options())
    with pytest.raises(ExportError, match="torch.onnx could not export"):
        with atomic_output(tmp_path / "bad.onnx") as tmp:
            converter.convert(job, tmp)
    assert list(tmp_path.iterdir()) == []


def test_int8_without_calibration_frames_is_a_clear_error(model, frames, tmp_path):
    with pytest.raises(CalibrationError, match="calibration"):
        export_artifact(model, "onnx", "stream", "int8", tmp_path, [], frames, LABELS, SPEC)
    assert list(tmp_path.iterdir()) == []


def test_empty_calibration_folder_from_the_cli(tmp_path, cli):
    empty = tmp_path / "no_frames"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    result = cli("export", "--default", "--target", "onnx", "--precision", "int8", "--form", "stream", "--calib", empty,
                 "--out", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.strip() == f"stsm-edge: error: {empty}: no readable images"
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_calibration_stride_takes_every_nth_image_of_a_folder(tmp_path):
    """`--calib-stride` reads an image folder as it reads a video: every stride-th frame, in name order."""
    for i in range(7):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((4, 4, 3), 10 * i, np.uint8))
    assert [int(f[0, 0, 0]) for f in iter_frames(tmp_path, 3, stride=2)] == [0, 20, 40]
    assert [int(f[0, 0, 0]) for f in iter_frames(tmp_path, None, stride=3)] == [0, 30, 60]
    with pytest.raises(InputError, match="stride must be >= 1, got 0"):
        iter_frames(tmp_path, None, stride=0)


def test_missing_optional_library_is_one_line(tmp_path):
    # A real import failure: the interpreter is told the quantizer package is absent.
    code = ("import sys; sys.modules['ai_edge_quantizer'] = None; sys.modules['litert_torch'] = None; "
            "from stsm_edge.app.cli import main; sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", code, "export", "--default", "--target", "tflite",
                             "--precision", "int8", "--form", "stream", "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "tflite" in result.stderr and "litert_torch" in result.stderr
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_stream_calibration_carries_real_states(model, frames):
    form = build_form(model, "stream", *SPEC.size)
    feed = form_inputs(form, frames[:5], model.n_segments)
    assert all(float(s.abs().sum()) == 0.0 for s in feed[0][1:])  # frame 0: the zero fill
    assert all(float(s.abs().sum()) > 0.0 for s in feed[3][1:])  # later frames: the previous frame's channels
    clips = form_inputs(build_form(model, "clip", *SPEC.size), frames[:6], T)
    assert len(clips) == 3 and tuple(clips[0][0].shape) == (1, T, 3, *SPEC.size)


def test_sidecar_validation_names_the_problem(model, frames, tmp_path):
    result = export_artifact(model, "onnx", "clip", "fp32", tmp_path, [], frames[: 2 * T], LABELS, SPEC)
    data = json.loads(sidecar_path(result.path).read_text())
    for broken, message in [({**data, "labels": ["x"]}, "1 labels for 10 classes"),
                            ({k: v for k, v in data.items() if k != "inputs"}, "'inputs' is a required property"),
                            ({**data, "version": 99}, "newer"),
                            ({**data, "form": "video"}, r"form: 'video' is not one of \['clip', 'stream'\]"),
                            ({**data, "inputs": [{"name": "x", "shape": [1]}]}, r"inputs\[0\]: 'dtype' is a required"),
                            ({**data, "time_step": {"seconds": 0}}, "time_step"),
                            ({**data, "state": "inside"}, r"state: 'inside' is not one of \['explicit', 'internal'\]"),
                            ({**data, "state": "internal"}, "form: 'stream' was expected"),
                            ({**data, "form": "stream", "state": "internal", "inputs": data["inputs"] * 2},
                             r"inputs: 2 entries, at most 1 allowed \(a stream that keeps its states inside"),
                            ({**data, "preprocess": {**data["preprocess"], "mean": [0.5]}},
                             "preprocess.mean: 1 entries, at least 3 needed")]:
        with pytest.raises(ArtifactError, match=message):
            validate_sidecar(broken)
    assert np.isfinite(result.parity["vs_fp32"]["max_abs_diff"])


# ---- the int8 bar: a correct artifact passes it, a damaged one fails it -----------------------------

def with_reference(default_motion, result, state: str = "explicit"):
    """(result, eager form, verification feeds): what verify_artifact compares a (damaged) copy of `result` with."""
    bundle, _, frames = default_motion
    form = build_form(bundle.model, "stream", *bundle.preprocess.size, state)
    return result, form.module, clip_feeds(form, frames["val"], bundle.model.n_segments)


@pytest.fixture(scope="module")
def default_int8_stream(default_motion, default_int8):
    """The default model's int8 streaming ONNX file. The bar needs trained weights to mean anything."""
    return with_reference(default_motion, default_int8("onnx"))


@pytest.fixture(scope="module")
def default_int8_internal_stream(default_motion, default_int8):
    """The default model's int8 streaming ExecuTorch program that keeps its states inside."""
    return with_reference(default_motion, default_int8("executorch", "internal"), "internal")


def _zero_states(model) -> None:
    """Every state output multiplied by zero: the stream forgets the frames before the current one."""
    from onnx import helper, numpy_helper

    graph = model.graph
    for output in list(graph.output)[1:]:
        kept, zero = output.name + "_kept", output.name + "_zero"
        for node in graph.node:
            node.output[:] = [kept if name == output.name else name for name in node.output]
            node.input[:] = [kept if name == output.name else name for name in node.input]
        graph.initializer.append(numpy_helper.from_array(np.zeros((), np.float32), zero))
        graph.node.append(helper.make_node("Mul", [kept, zero], [output.name]))


def _double_weight_scales(model) -> None:
    """Every int8 conv weight's per-channel scale doubled, as a quantizer that got its scales wrong would."""
    from onnx import numpy_helper

    scales = {node.input[4] for node in model.graph.node if node.op_type == "QLinearConv"}
    for init in model.graph.initializer:
        if init.name in scales:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 2, init.name))


def test_a_correct_int8_stream_passes_the_bar(default_int8_stream):
    result, _, _ = default_int8_stream
    parity = result.parity
    assert parity["passed"] and parity["verdict"] == "pass", parity
    # The bar is on the mean of T frames' logits, as a runner shows them, over windows that share no frame.
    window = result.sidecar["model"]["n_segments"]
    assert parity["vs_fp32"]["samples"] == parity["per_frame"]["samples"] // window == 27
    assert parity["verified_on"] == {"source": "motion benchmark val clips, seed 0", "clips": 27, "frames": 216,
                                     "independent_windows": 27}
    # Neither control remembers a frame, and on clips with motion neither comes near the bar.
    assert set(parity["controls"]) == {"reset_every_step", "own_frame_states"}
    assert all(c["vs_fp32"]["top1_agreement"] < 0.5 for c in parity["controls"].values()), parity["controls"]
    assert read_sidecar(result.path)["parity"] == parity


def _memoryless(model) -> None:
    """Each state input replaced by its new state: the stream reads the current frame's own channels where the
    previous frame's belong (a state written back before it is read), so it sees no time."""
    graph = model.graph
    inputs = [i.name for i in graph.input][1:]
    for name in inputs:
        for node in graph.node:
            node.input[:] = ["new_" + name if x == name else x for x in node.input]
    # Keep the inputs (a runner still feeds them), and restore the topological order that ONNX requires.
    produced, ordered, waiting = {i.name for i in graph.input} | {i.name for i in graph.initializer}, [], \
        list(graph.node)
    while waiting:
        ready = [n for n in waiting if all(x in produced or not x for x in n.input)]
        assert ready, "the rewired graph has a cycle"
        for node in ready:
            ordered.append(node)
            produced.update(node.output)
            waiting.remove(node)
    del graph.node[:]
    graph.node.extend(ordered)


@pytest.fixture(scope="module")
def default_verification(default_motion):
    """What `export` verifies the default model on when the user names nothing: the feeds of each clip."""
    from stsm_edge.converters.export import export_frames
    from stsm_edge.converters.plan import ExportPlan

    bundle, _, _ = default_motion
    frames = export_frames(bundle, ExportPlan(target="onnx", form="stream", precision="int8"), bundle.preprocess,
                           bundle.time_step.seconds)
    form = build_form(bundle.model, "stream", *bundle.preprocess.size)
    return frames, form.module, clip_feeds(form, frames.verification, bundle.model.n_segments)


def test_default_verification_is_paced_motion_clips_with_a_window_each(default_verification, default_motion):
    frames, _, feeds = default_verification
    _, _, fixture = default_motion
    assert frames.verified_on == "motion benchmark val clips, seed 0, paced at 166.7 ms"
    assert [len(clip) for clip in frames.verification] == [8] * 27  # 16 frames at 12 fps, paced at 1/6 s
    assert all(np.array_equal(a, b) for clip, same in zip(frames.verification, fixture["val"])
               for a, b in zip(clip, same))


@pytest.mark.parametrize("damage", [_memoryless, _zero_states], ids=["memory-less", "states zeroed"])
def test_a_stream_without_memory_fails_the_default_verification(default_int8_stream, default_verification, damage,
                                                                 tmp_path):
    """On `export`'s default frames for the default model. (cup.mp4 at its own frame rate, the default before, passed
    a memory-less stream at 95.6% of its overlapping windows.)"""
    import onnx
    from stsm_edge.converters.base import verify_artifact

    result, _, _ = default_int8_stream
    _, reference, feeds = default_verification
    model = onnx.load(str(result.path))
    damage(model)
    damaged = tmp_path / result.path.name
    onnx.save(model, str(damaged))
    parity = verify_artifact(damaged, result.sidecar, reference, feeds)
    assert parity["verdict"] == "fail" and not parity["passed"], parity
    assert parity["vs_fp32"]["top1_agreement"] < 0.5, parity["vs_fp32"]


def test_frames_without_motion_make_the_verification_inconclusive(default_int8_stream, default_motion, tmp_path):
    """A still scene (one real frame, held for 3 windows): a control clears the bar too, so the verification
    says it cannot see the temporal state and fails, unless weak verification is asked for, which it records."""
    from stsm_edge.converters.base import verify_artifact

    from stsm_edge.data.sources import paced_clips
    from stsm_edge.sidecar import validate_sidecar

    result, reference, _ = default_int8_stream
    bundle, root, _ = default_motion
    still = tmp_path / "still"
    still.mkdir()
    frame = next(iter_frames(root / "val.txt", 1))
    for i in range(24):
        cv2.imwrite(str(still / f"{i:03d}.png"), frame)
    form = build_form(bundle.model, "stream", *bundle.preprocess.size)
    feeds = clip_feeds(form, paced_clips(still, bundle.preprocess, bundle.time_step.seconds), bundle.model.n_segments)
    strict = verify_artifact(result.path, result.sidecar, reference, feeds, verified_on="a still scene")
    assert strict["verdict"] == "inconclusive" and not strict["passed"], strict
    assert "verify on clips with motion" in strict["inconclusive_because"]
    assert any(c["clears_bar"] for c in strict["controls"].values()), strict["controls"]
    weak = verify_artifact(result.path, result.sidecar, reference, feeds, verified_on="a still scene",
                           weak_verify=True)
    assert weak["verdict"] == "inconclusive" and weak["passed"] and weak["weak_verify"]
    validate_sidecar({**result.sidecar, "schema": "stsm-edge/artifact", "version": 1, "parity": weak})


@pytest.mark.parametrize("damage", [_zero_states, _double_weight_scales], ids=["states zeroed", "scales x2"])
def test_a_damaged_int8_stream_fails_the_bar(default_int8_stream, damage, tmp_path):
    import onnx
    from stsm_edge.converters.base import verify_artifact

    result, reference, feed = default_int8_stream
    model = onnx.load(str(result.path))
    damage(model)
    damaged = tmp_path / result.path.name
    onnx.save(model, str(damaged))
    parity = verify_artifact(damaged, result.sidecar, reference, feed)
    assert not parity["passed"], parity


def test_an_int8_program_that_keeps_its_states_inside_passes_the_bar(default_int8_internal_stream):
    result, _, _ = default_int8_internal_stream
    assert result.parity["passed"], result.parity
    assert result.sidecar["state"] == "internal" and [t["name"] for t in result.sidecar["inputs"]] == ["frame"]
    # One delegate runs the int8 model; only the write-back of each new state into its buffer stays outside it.
    delegation = result.sidecar["delegation"]
    assert delegation["subgraphs"] == 1 and delegation["non_delegated_ops"] == ["copy_.default"], delegation
    assert delegation["non_delegated_compute_nodes"] == len(result.sidecar["states"])


def test_an_int8_program_that_forgets_its_states_between_frames_fails_the_bar(default_int8_internal_stream,
                                                                            monkeypatch):
    """The same program loaded afresh before every frame: each frame sees the zero fill, as if the write-back of
    the states into their buffers were lost."""
    from stsm_edge.converters.base import verify_artifact

    from stsm_edge.runtimes.executorch import ExecuTorchRuntime

    result, reference, feed = default_int8_internal_stream
    run = ExecuTorchRuntime._run

    def forgetful(runtime, inputs):
        runtime._method = runtime._load_forward()
        return run(runtime, inputs)

    monkeypatch.setattr(ExecuTorchRuntime, "_run", forgetful)
    parity = verify_artifact(result.path, result.sidecar, reference, feed)
    assert not parity["passed"], parity
