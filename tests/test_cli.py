"""The command line: real commands in a subprocess, one-line errors, non-zero exits."""

import subprocess
import sys


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "stsm_edge", *args], capture_output=True, text=True, timeout=timeout)


def test_info_reports_equal_params_and_flops_and_state_bytes():
    result = run_cli("info", "--width-mult", "0.5", "--size", "160")
    assert result.returncode == 0, result.stderr
    assert "shift adds 0 params and 0 FLOPs (equal)" in result.stdout
    assert "streaming (causal) states: 10" in result.stdout


def test_classify_coffee_prints_espresso_first():
    result = run_cli("classify")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split("%")[1].strip() == "espresso"


def test_unreadable_image_is_one_line_error(tmp_path):
    bad = tmp_path / "not_an_image.png"
    bad.write_bytes(b"\x00garbage")
    result = run_cli("classify", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "not an image" in result.stderr
