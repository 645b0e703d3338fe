"""What a user sees is stsm-edge's own: every line of stdout and stderr of `export` and of the main job's first
stage has one of stsm-edge's shapes (allow-listed here), and the tools' chatter is in `<out>/stsm-edge.log`."""

import re
import subprocess
import sys

import pytest

OWN_LINES = [re.compile(p) for p in (
    # progress bars (tqdm, redrawn with \r) and tables
    r"export: +\d+%\|.*\| \d+/\d+ \[[\d:<?.]+, [^\]]*\] *",
    r"[-  ]+",
    r"target +form +precision +size +parity +check +time",
    r"(executorch|coreml|tflite|onnx) +(clip|stream) +(fp32|fp16|int8w?) +[\d.]+ [kM]B +.+ +(pass|FAIL) +[\d.]+s",
    r"artifacts and sidecars in .+",
    # the main job's first stage: the shift's cost, then a prediction
    r"mobilenet_v2, T = \d+, \d+x\d+, shift \w+ \(dims '[THW]*', fold_div \d+, (causal|bidirectional)\)",
    r"model +params +GFLOPs \(clip\)",
    r"(STSM\(THW\)-mobilenet_v2|plain mobilenet_v2) +[\d,]+ +[\d.]+",
    r"shift adds 0 params and 0 FLOPs \(equal\)",
    r"streaming \(causal\) states: \d+, [\d,]+ bytes per frame in fp32",
    r"state +shape +bytes",
    r"state_features_\d+ +\d+x\d+x\d+x\d+ +[\d,]+",
    r"top-5 for \S+, .+ \(ImageNet weights\):",
    r" +\d+\.\d% +.+",
    r"",
)]

pytestmark = pytest.mark.slow  # int8 exports in a fresh process each


def cli(*args):
    return subprocess.run([sys.executable, "-m", "stsm_edge", *map(str, args)], capture_output=True, text=True,
                          timeout=900)


def foreign_lines(text: str) -> list[str]:
    lines = (line.strip("\r") for chunk in text.split("\n") for line in chunk.split("\r"))
    return [line for line in lines if not any(p.fullmatch(line) for p in OWN_LINES)]


@pytest.mark.parametrize("command", [
    ("export", "--default", "--target", "onnx", "--precision", "int8", "--form", "stream", "--calib-frames", "24",
     "--verify-frames", "24"),
    ("demo", "--skip-export"),
], ids=["export onnx int8", "demo first stage"])
def test_every_line_is_stsm_edges_own(command, tmp_path):
    result = cli(*command, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert foreign_lines(result.stdout) == []
    assert foreign_lines(result.stderr) == []
    if command[0] == "export":
        assert "export:" in result.stderr and "artifacts and sidecars in" in result.stdout  # the bar and the table
        assert (tmp_path / "out" / "stsm-edge.log").exists()


def test_the_tools_output_is_live_with_verbose(tmp_path):
    """-v keeps the tools' output on the terminal (the allow-list then rejects it: it is not stsm-edge's)."""
    result = cli("-v", "export", "--default", "--target", "onnx", "--precision", "int8", "--form", "stream",
                 "--calib-frames", "24", "--verify-frames", "24", "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr[-2000:]
    assert foreign_lines(result.stdout + result.stderr) != []
    assert not (tmp_path / "out" / "stsm-edge.log").exists()
