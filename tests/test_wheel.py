"""The built wheel is one namespace, `stsm_edge`, and works installed outside the repo.

`python -m build` makes the wheel; it is installed with pip into a fresh venv that borrows only the third-party
packages of the project's venv (a path entry, so the editable install's finder is not loaded), and the main
job's first stage runs there from a directory outside the repo.
"""

import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds the wheel and installs it in a fresh venv

REPO = Path(__file__).resolve().parent.parent
# Folders that ship, and the package each maps to (pyproject's package-dir).
SHIPPED = {"stsm_edge": "stsm_edge", "converters": "stsm_edge/converters", "benchmarks": "stsm_edge/benchmarks"}


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of the repo's files (git's view: tracked and not ignored), so setuptools' build/ folder
    lands in the copy, not in the repo."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    listed = run("git", "-C", REPO, "ls-files", "-co", "--exclude-standard").stdout.split("\n")
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    result = run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, source, cwd=out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return next(out.glob("stsm_edge-*.whl"))


def test_wheel_has_one_top_level_package_with_every_folder(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"stsm_edge", "stsm_edge-0.1.0.dist-info"}
    for folder, package in SHIPPED.items():  # every package folder in the repo is in the wheel, mapped
        for init in (REPO / folder).rglob("__init__.py"):
            assert f"{package}/{init.parent.relative_to(REPO / folder).as_posix()}/__init__.py".replace("/./", "/") \
                in names, init
    assert "stsm_edge/resources/artifact.schema.json" in names and "stsm_edge/benchmarks/schema.json" in names


def test_installed_wheel_runs_the_main_jobs_first_stage_outside_the_repo(wheel, tmp_path):
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", venv).returncode == 0
    python = venv / "bin" / "python"
    packages = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (packages / "third_party.pth").write_text("\n".join(site.getsitepackages()) + "\n")  # dependencies only
    install = run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel)
    assert install.returncode == 0, install.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(python, "-c", "import stsm_edge.converters.base, stsm_edge.benchmarks.harness as h; print(h.__file__)",
                cwd=elsewhere)
    assert where.returncode == 0 and where.stdout.startswith(str(packages)), where.stdout + where.stderr
    for top_level in ("converters", "benchmarks"):
        assert run(python, "-c", f"import {top_level}", cwd=elsewhere).returncode != 0, top_level
    demo = run(venv / "bin" / "stsm-edge", "demo", "--skip-export", cwd=elsewhere)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "shift adds 0 params and 0 FLOPs (equal)" in demo.stdout and "espresso" in demo.stdout
    # Converters are imported on demand by name: one export proves those names are the installed package's.
    export = run(venv / "bin" / "stsm-edge", "export", "--default", "--target", "onnx", "--form", "clip",
                 "--verify-frames", "16", "--out", elsewhere / "out", "--quiet", cwd=elsewhere)
    assert export.returncode == 0, export.stdout[-2000:] + export.stderr[-2000:]
    assert (elsewhere / "out" / "mobilenet_v2_clip_fp32.onnx").exists()
