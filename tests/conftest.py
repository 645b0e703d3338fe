"""Fixtures shared across test modules. An export costs tens of seconds of CPU, so every artifact that more than
one module checks is exported once per session, here, and the modules check the same file."""

import logging
import os
import sys
from dataclasses import dataclass

import pytest
import torch

# pytest-xdist runs a worker per core (pyproject's addopts); each worker's torch gets its share of the cores, so
# their thread pools do not fight over the same ones.
torch.set_num_threads(max(1, (os.cpu_count() or 2) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))


# `pytest -m "not slow"` is the inner loop; CI runs everything. Besides the tests and modules marked slow, every test
# that needs one of the default model's int8 exports (calibrated on motion clips and verified, tens of seconds each).
SLOW_FIXTURES = {"default_int8"}

# Every test that checks one set of the session's exports runs on the same worker (xdist's loadgroup), so each
# artifact is still exported once; the small model's exports are grouped by target, so the targets' grids export on
# different workers side by side. The other tests go to the workers file by file.
EXPORT_TARGETS = ("executorch", "tflite", "onnx", "coreml")


def export_group(item) -> str:
    """The loadgroup of a test: the exports it checks, else its file. A test of the small model's artifacts names its
    target by a `target` parameter, in its name, or by its module's SMALL_ARTIFACT_TARGET."""
    used = set(item.fixturenames)
    if "default_int8" in used:
        return "the default model's int8 exports"
    if "small_artifact" not in used:
        return item.path.name
    callspec = getattr(item, "callspec", None)
    target = (callspec.params.get("target") if callspec else None) \
        or next((name for name in EXPORT_TARGETS if name in item.name), None) \
        or getattr(item.module, "SMALL_ARTIFACT_TARGET", None)
    return f"the small model's {target} exports" if target else "the small model's exports"


@pytest.hookimpl(tryfirst=True)  # the marks must be there before xdist's own hook reads them
def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)
        item.add_marker(pytest.mark.xdist_group(export_group(item)))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# ---- the small causal model (tests/small_models.py) and its artifacts -----------------------------

@pytest.fixture(scope="session")
def small_frames():
    from small_models import split_frames

    return split_frames(16)


@pytest.fixture(scope="session")
def small_model(small_frames):
    from small_models import small_causal_model

    return small_causal_model(small_frames["calibration"])


@pytest.fixture(scope="session")
def small_artifact(small_model, small_frames, tmp_path_factory):
    """small_artifact(target, form, precision, state="explicit") -> ExportResult of the small model, calibrated on
    its calibration frames and verified on held-out ones; exported on first use."""
    from small_models import LABELS, SPEC, T
    from stsm_edge.converters.base import export_artifact

    made: dict = {}

    def get(target: str, form: str, precision: str, state: str = "explicit"):
        key = (target, form, precision, state)
        if key not in made:
            made[key] = export_artifact(small_model, target, form, precision,
                                        tmp_path_factory.mktemp(f"{target}_{form}_{precision}_{state}"),
                                        small_frames["calibration"], small_frames["held_out"][: 2 * T], LABELS, SPEC,
                                        options=None if state == "explicit" else {"state": state})
        return made[key]

    return get


# ---- the shipped default model and its int8 streams ----------------------------------------------

@pytest.fixture(scope="session")
def default_motion(tmp_path_factory):
    """(default model bundle, motion clips root, {"train": clips, "val": clips}), each clip a list of preprocessed
    frames. Seed 0's clips are the default model's own splits (clip i depends only on seed, split and i), so its
    test clips are ones no training step saw. Paced at the model's 1/6 s step, as export paces them: every second
    frame of a 12 fps clip, 8 per clip (T = 8). The 27 val clips are what `export` verifies the default model on
    (converters/plan.py), 27 independent windows; they show every class moving, unlike a real video's mostly still
    frames."""
    from stsm_edge.data.motion import make_motion_data
    from stsm_edge.data.sources import paced_clips
    from stsm_edge.defaults import default_model

    bundle = default_model()
    root = make_motion_data(tmp_path_factory.mktemp("motion") / "m", seed=0, clips_per_class=12)
    frames = {split: paced_clips(root / f"{split}.txt", bundle.preprocess, bundle.time_step.seconds, 216)
              for split in ("train", "val")}
    return bundle, root, frames


@pytest.fixture(scope="session")
def default_int8(default_motion, tmp_path_factory):
    """default_int8(target, state="explicit") -> ExportResult of the default model's int8 stream, calibrated on 27 train
    clips and verified (the int8 bar and the controls of converters/base.py) on all 27 val clips; exported on first
    use."""
    from stsm_edge.converters.base import export_artifact

    bundle, _, frames = default_motion
    made: dict = {}

    def get(target: str, state: str = "explicit"):
        if (target, state) not in made:
            made[target, state] = export_artifact(bundle.model, target, "stream", "int8",
                                                  tmp_path_factory.mktemp(f"default_int8_{target}_{state}"),
                                                  frames["train"], frames["val"], bundle.labels, bundle.preprocess,
                                                  options=None if state == "explicit" else {"state": state},
                                                  verified_on="motion benchmark val clips, seed 0")
        return made[target, state]

    return get


# ---- the command line, in this process ----------------------------------------------------------------------------

@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capfd):
    """cli(*args) -> CliResult of `stsm-edge ARGS` run by the same main() the console script calls, in
    this process: no new interpreter and its seconds of imports per call. Output is captured at the file
    descriptors (tools' C++ output too), and stsm-edge's log records go to stderr as the console script prints them,
    so a stray warning line still shows. A check about the process itself (its exit status as a shell sees it, a
    clean interpreter) stays a subprocess: tests/test_cli.py, tests/test_quiet_output.py."""
    from stsm_edge.app.cli import main

    def run(*args) -> CliResult:
        capfd.readouterr()
        root = logging.getLogger()
        to_stderr = logging.StreamHandler(sys.stderr)
        to_stderr.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        level, root.level = root.level, logging.WARNING
        root.addHandler(to_stderr)
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exc:  # argparse's usage errors and --help
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        finally:
            root.removeHandler(to_stderr)
            root.level = level
        out, err = capfd.readouterr()
        return CliResult(code, out, err)

    return run
