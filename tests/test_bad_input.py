"""A catalogue of bad inputs across the CLI: each is one short line on stderr and a non-zero exit, with no
traceback, nothing left in --out, and no code run from a checkpoint (a pickle whose __reduce__ would create a
marker file must never create it). The commands run in this process (conftest's `cli` fixture: the console
script's main()); an exception that escaped main would fail the test with its traceback. One case runs as a real
process too, for the exit status and stderr a shell sees."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from stsm_edge.assets import video_path

MARKER_NAME = "code-ran-from-a-checkpoint"


class _RunsCodeWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    marker = root / MARKER_NAME
    evil = root / "evil.pt"
    # Protocol 2, which torch's weights-only unpickler reads up to the forbidden call (protocol 4 stops it earlier).
    evil.write_bytes(pickle.dumps({"state_dict": _RunsCodeWhenUnpickled(marker)}, protocol=2))
    text = root / "notes.pt"
    text.write_text("not a checkpoint\n")
    junk_model = root / "junk.pte"
    junk_model.write_bytes(os.urandom(256))
    (root / "junk.pte.json").write_bytes(bytes(range(256)) * 4)  # a sidecar of binary junk
    unknown = root / "model.txt"
    unknown.write_text("hello")
    data = root / "data"
    data.mkdir()
    (data / "labels.txt").write_text("a\nb\n")
    (data / "train.txt").write_text(f"{video_path('cup.mp4')} 0\n")
    bad_list = root / "bad_list.txt"
    bad_list.write_text("clip.mp4 one\n")
    good_list = root / "list.txt"
    good_list.write_text(f"{video_path('cup.mp4')} 0\n")
    videos = root / "videos"
    videos.mkdir()
    return {"root": root, "marker": marker, "evil": evil, "text": text, "junk_model": junk_model,
            "unknown": unknown, "data": data, "bad_list": bad_list, "list": good_list, "videos": videos,
            "cup": video_path("cup.mp4")}


CASES = {
    "run: missing video": ["run", "{root}/missing.mp4", "--default"],
    "run: sidecar of binary junk": ["run", "{cup}", "--model", "{junk_model}"],
    "run: missing model": ["run", "{cup}", "--model", "{root}/none.pte"],
    "run: unknown model type": ["run", "{cup}", "--model", "{unknown}"],
    "run: negative time step": ["run", "{cup}", "--default", "--step-ms", "-5"],
    "run: zero smoothing window": ["run", "{cup}", "--default", "--smooth-window", "0"],
    "webcam: no such camera": ["webcam", "--default", "--camera", "99", "--headless", "--record", "{out}/x.mp4"],
    "webcam: headless without a recording": ["webcam", "--default", "--source", "{cup}", "--headless"],
    "export: text file as checkpoint": ["export", "--checkpoint", "{text}", "--out", "{out}"],
    "export: pickle that runs code": ["export", "--checkpoint", "{evil}", "--out", "{out}"],
    "export: size 0": ["export", "--default", "--size", "0", "--target", "onnx", "--out", "{out}"],
    "export: unknown target": ["export", "--default", "--target", "nosuch", "--out", "{out}"],
    "export: misspelt converter option": ["export", "--default", "--target", "onnx", "--option", "quant_fromat=qdq",
                                          "--out", "{out}"],
    "export: converter option without a value": ["export", "--default", "--target", "onnx", "--option", "qdq",
                                                 "--out", "{out}"],
    "export: a folder as checkpoint": ["export", "--checkpoint", "{root}", "--out", "{out}"],
    "export: internal state on a target that carries states": ["export", "--default", "--target", "onnx", "--form",
                                                              "stream", "--state", "internal", "--out", "{out}"],
    "export: internal state for the clip form": ["export", "--default", "--target", "executorch", "--form", "clip",
                                                 "--state", "internal", "--out", "{out}"],
    "export: unknown state location": ["export", "--default", "--target", "executorch", "--form", "stream",
                                       "--state", "inside", "--out", "{out}"],
    "export: calibration stride 0": ["export", "--default", "--target", "onnx", "--precision", "int8", "--calib",
                                     "{cup}", "--calib-stride", "0", "--out", "{out}"],
    "eval: sidecar of binary junk": ["eval", "--model", "{junk_model}", "--data", "{list}"],
    "eval: missing list": ["eval", "--default", "--data", "{root}/missing.txt"],
    "eval: bad list line": ["eval", "--default", "--data", "{bad_list}"],
    "eval: play fps 0": ["eval", "--default", "--data", "{list}", "--play-fps", "0"],
    "train: missing data folder": ["train", "--data", "{root}/nodata", "--out", "{out}"],
    "train: preset with fold-div": ["train", "--data", "{data}", "--out", "{out}", "--method", "tsm", "--fold-div", "4"],
    "train: zero epochs": ["train", "--data", "{data}", "--out", "{out}", "--epochs", "0"],
    "train: pickle that runs code as pretrained": ["train", "--data", "{data}", "--out", "{out}", "--pretrained",
                                                   "{evil}", "--workers", "0"],
    "classify: missing image": ["classify", "{root}/missing.jpg"],
    "classify: text as image": ["classify", "{unknown}"],
    "distill: pickle that runs code as teacher": ["distill", "--teacher", "{evil}", "--videos", "{videos}", "--out",
                                                  "{out}"],
    "distill: text file as teacher": ["distill", "--teacher", "{text}", "--videos", "{videos}", "--out", "{out}"],
    "distill: no videos": ["distill", "--teacher", "{text}", "--videos", "{root}/none", "--out", "{out}"],
}


def _args(name: str, files: dict, out: Path) -> list[str]:
    return [arg.format(out=out, **{k: str(v) for k, v in files.items()}) for arg in CASES[name]]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_line_and_leaves_nothing(name, files, tmp_path, cli):
    out = tmp_path / "out"
    result = cli(*_args(name, files, out))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, (name, result.stdout[-500:])
    assert "Traceback" not in result.stderr, (name, result.stderr[-2000:])
    assert len(lines) == 1 and "error:" in lines[0] and len(lines[0]) < 200, (name, result.stderr[-2000:])
    assert not out.exists() or not any(out.iterdir()), (name, sorted(out.iterdir()))
    assert not files["marker"].exists(), f"{name}: code from a checkpoint ran"
    if "pickle that runs code" in name:
        assert "refusing to load" in lines[0] and "could run code" in lines[0], lines[0]


def test_a_bad_input_in_a_real_process_is_one_line_and_exit_2(files, tmp_path):
    name = "train: pickle that runs code as pretrained"
    result = subprocess.run([sys.executable, "-m", "stsm_edge", *_args(name, files, tmp_path / "out")],
                            capture_output=True, text=True, timeout=600)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1 and "refusing to load" in lines[0], result.stderr[-2000:]
    assert not files["marker"].exists() and not (tmp_path / "out").exists()
