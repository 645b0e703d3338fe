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
    r"(executorch|coreml|tflite|onnx) +(clip|stream) +(fp32|fp16|int8w?) +[\d.]+ [kM]B +.+ "
    r"+(pass|FAIL|pass \(weak\)|INCONCLUSIVE) +[\d.]+s",
    r"artifacts and sidecars in .+",
    r"verified on .+, paced at [\d.]+ ms",
    r"inconclusive: .+",
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


# ---- the terminal comes back on every way out of ToolsToLog ------------------------------------------------------

TOOLS_TO_LOG_SCRIPT = r"""
import os, resource, signal, sys
from pathlib import Path
from stsm_edge.app.cli import run_guarded
from stsm_edge.console import ToolsToLog, say
from stsm_edge.errors import InputError

scenario, out = sys.argv[1], Path(sys.argv[2])
def terminal():
    return (os.fstat(1).st_ino, os.fstat(2).st_ino, sys.stdout, sys.stderr)
before = terminal()

def body():
    print("a tool's line")  # into the log
    if scenario == "full disk":
        # A real write failure, as on a full disk: files may not grow past 16 more bytes (EFBIG), and a tool's
        # unfinished line waits in the log's buffer for the flush at the block's end.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (os.fstat(1).st_size + 16, resource.RLIM_INFINITY))
        sys.stdout.write("x" * 64)
        raise InputError("the user's error")
    if scenario == "broken pipe":
        sys.stdin.readline()  # the reader has closed its end by now, as `| head` does after its lines
        for _ in range(3):
            say("a line nobody reads")
    if scenario == "interrupt":
        raise KeyboardInterrupt
    if scenario == "nested":
        with ToolsToLog(out / "inner.log"):
            print("an inner tool's line")
            say("inner own line")
        say("outer own line after the inner block")
        raise InputError("the user's error")

status = run_guarded(ToolsToLog(out / "stsm-edge.log"), body)
if scenario == "broken pipe":  # stdout's pipe is gone: its descriptor now writes to /dev/null, the rest is back
    before = (os.stat(os.devnull).st_ino, *before[1:])
print(f"terminal back: {terminal() == before}", file=sys.stderr)
sys.exit(status)
"""


def run_tools_to_log(scenario, tmp_path, close_stdout=False):
    import os

    out, scratch = tmp_path / "out", tmp_path / "tmp"
    out.mkdir()
    scratch.mkdir()
    process = subprocess.Popen([sys.executable, "-c", TOOLS_TO_LOG_SCRIPT, scenario, str(out)], text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "TMPDIR": str(scratch)})
    if close_stdout:
        process.stdout.close()
        stdout = ""
        stderr = process.communicate("\n", timeout=120)[1]
    else:
        stdout, stderr = process.communicate("\n", timeout=120)
    return process.returncode, stdout, stderr, out, scratch


def test_a_log_that_cannot_be_flushed_gives_the_terminal_back_with_the_error(tmp_path):
    status, stdout, stderr, out, scratch = run_tools_to_log("full disk", tmp_path)
    assert status == 2, stderr
    lines = stderr.splitlines()
    assert lines[0] == "WARNING: the tools' log is incomplete: File too large", stderr
    assert lines[1] == f"stsm-edge: error: the user's error (the tools' output: {out / 'stsm-edge.log'})"
    assert lines[2:] == ["terminal back: True"]
    assert (out / "stsm-edge.log").read_text().startswith("a tool's line")


def test_a_closed_stdout_pipe_gives_the_terminal_back_and_leaves_no_temporary_log(tmp_path):
    status, _, stderr, out, scratch = run_tools_to_log("broken pipe", tmp_path, close_stdout=True)
    assert status == 141, stderr
    assert stderr.splitlines() == ["stsm-edge: stopped: the output pipe was closed", "terminal back: True"]
    assert list(scratch.iterdir()) == []
    assert (out / "stsm-edge.log").read_text() == "a tool's line\n"


def test_an_interrupt_gives_the_terminal_back(tmp_path):
    status, _, stderr, out, scratch = run_tools_to_log("interrupt", tmp_path)
    assert status == 130
    assert stderr.splitlines() == ["stsm-edge: interrupted", "terminal back: True"]
    assert list(scratch.iterdir()) == [] and (out / "stsm-edge.log").exists()


def test_an_inner_block_leaves_the_outer_blocks_terminal(tmp_path):
    status, stdout, stderr, out, scratch = run_tools_to_log("nested", tmp_path)
    assert status == 2
    assert stdout.splitlines() == ["inner own line", "outer own line after the inner block"]
    assert stderr.splitlines()[0].startswith("stsm-edge: error: the user's error")
    assert stderr.splitlines()[1:] == ["terminal back: True"]
    assert (out / "inner.log").read_text() == "an inner tool's line\n"
    assert (out / "stsm-edge.log").read_text() == "a tool's line\n"
    assert list(scratch.iterdir()) == []
