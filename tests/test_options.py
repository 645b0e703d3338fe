"""Each flag is declared once: every parser the project has (each `stsm-edge` command's, `stsm-edge bench`'s and the
benchmarks' own) is built, and no two definitions of a flag may share its name unless they are the same object
(an options.Flag reused by every command that takes it). A few names mean different things in different programs
(`--out`); those are listed, each with its meanings, and none of them is a flag of a shared group."""

import argparse
import importlib
import subprocess
import sys
from collections import defaultdict

import pytest

from stsm_edge.app.cli import build_parser
from stsm_edge.options import Flag, ModelFlags, RunnerFlags, ShiftFlags, add_options, definitions

# The benchmarks' programs parse their own flags in main(); each is run up to its parse and the parser kept.
PROGRAMS = ("stsm_edge.benchmarks.harness", "stsm_edge.benchmarks.report", "stsm_edge.benchmarks.android.adb_bench",
            "stsm_edge.benchmarks.internal_state", "stsm_edge.benchmarks.shift_overhead",
            "stsm_edge.benchmarks.int8_speed", "stsm_edge.benchmarks.fidelity.run",
            "stsm_edge.benchmarks.time_step.run", "stsm_edge.benchmarks.distill.run")

# Names that mean a different thing in different commands or programs (each one's own output, size, data...).
HOMONYMS = {
    "--out": "each command's output: a run folder, artifacts, a video, a results file",
    "--data": "a clip folder (train), an annotation list (eval), the motion benchmark (studies)",
    "--model": "an artifact or checkpoint to run (run, webcam, eval); a study's model name",
    "--size": "a model's input side; the rendered motion clips' side (make-motion-data); a benchmark's sizes",
    "--seed": "a training run's seed; the motion benchmark's rendering seed",
    "--method": "the shift a model is built with (info, train); the one a foreign checkpoint was trained with",
    "--segments": "frames per clip of a model built (info, train); of a foreign checkpoint; a benchmark's sweep",
    "--clips-per-class": "how many motion clips each program renders for its purpose",
    "--threads": "a runtime's threads (run, webcam, eval); the thread counts a benchmark sweeps",
    "--epochs": "train/distill epochs; a benchmark's training length",
    "--lr": "train/distill learning rate; a study's",
    "--batch-size": "train/distill batch; a study's",
    "--workers": "data loader processes of train/distill; of a study", "--max-steps": "per epoch; of a study",
    "--step-ms": "the model's time step; a study's sampling step",
    "--teacher": "distill's teacher checkpoint; the Android benchmark's", "--temperature": "distill's; a study's",
    "--k": "a benchmark's repeat count", "--rounds": "a benchmark's rounds", "--runs": "a benchmark's runs",
    "--results-dir": "where a benchmark's results go", "--device-name": "the device a benchmark records",
    "--artifact": "the artifact a benchmark times", "--targets": "the runtimes a benchmark covers",
    "--width": "a benchmark's width multipliers", "--width-mult": "a model's width (info); a benchmark's sweep",
    "--work": "a study's scratch folder", "--fps": "rendered clips' frame rate; a study's",
}


class _Parsed(Exception):
    pass


def program_parsers(monkeypatch) -> dict[str, argparse.ArgumentParser]:
    """Each benchmark program's parser, caught as its main() parses `--help`."""
    caught = {}

    def catch(parser, *args, **kwargs):
        caught[current] = parser
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", catch)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", catch)
    monkeypatch.setattr(sys, "argv", ["prog", "--help"])
    for current in PROGRAMS:
        main = importlib.import_module(current).main
        with pytest.raises(_Parsed):
            main(["--help"]) if main.__code__.co_argcount else main()
    return caught


def all_parsers(monkeypatch) -> dict[str, argparse.ArgumentParser]:
    return {"stsm-edge": build_parser(), **program_parsers(monkeypatch)}


def redefined(parsers: dict[str, argparse.ArgumentParser]) -> dict[str, list[str]]:
    """flag name -> the programs that define it, for every name with more than one definition."""
    found = defaultdict(dict)
    for program, parser in parsers.items():
        for name, definition in definitions(parser):
            found[name].setdefault(id(definition), (definition, program))
    return {name: sorted({program for _, program in defs.values()}) for name, defs in found.items() if len(defs) > 1}


def test_no_flag_is_defined_twice(monkeypatch):
    parsers = all_parsers(monkeypatch)
    assert len(parsers) == 1 + len(PROGRAMS)
    twice = {name: programs for name, programs in redefined(parsers).items() if name not in HOMONYMS}
    assert not twice, f"flags defined more than once (declare a Flag in stsm_edge.options and reuse it): {twice}"


def test_shared_groups_are_no_homonyms():
    """A group's flag means one thing everywhere: its name may not be listed as a homonym (--method, --segments,
    --size, --backbone and --threads are shared by their group's users; the homonym is the other program's)."""
    groups = (ShiftFlags, RunnerFlags, ModelFlags)
    names = {"--" + name.replace("_", "-") for group in groups for name, value in vars(group).items()
             if isinstance(value, Flag)}
    assert names & set(HOMONYMS) <= {"--method", "--segments", "--size", "--threads", "--width-mult"}
    assert {"--dims", "--fold-div", "--causal", "--stride", "--no-pacing"} <= names - set(HOMONYMS)


def test_the_shift_group_is_one_object_in_every_command():
    parser = build_parser()
    by_command = {name: dict(definitions(sub)) for name, sub in parser._subparsers._group_actions[0].choices.items()}
    for command in ("info", "train", "distill"):
        assert by_command[command]["--dims"] is ShiftFlags.dims
        assert by_command[command]["--causal"] is ShiftFlags.causal
    for command in ("run", "webcam", "eval"):
        assert by_command[command]["--no-pacing"] is RunnerFlags.no_pacing


def test_a_copied_definition_is_caught(monkeypatch):
    """The check's sensitivity: a command that declares the shift's --dims again, by hand, is reported."""
    from stsm_edge.app.info import ShiftCostQuery

    copy = argparse.ArgumentParser(prog="copy")
    add_options(copy, ShiftCostQuery, skip=("dims",))
    copy.add_argument("--dims", help="custom shift: dimensions that shift, in order (letters of THW)")
    assert "--dims" not in redefined({"stsm-edge": build_parser(), "shift": build_parser()})
    assert redefined({"stsm-edge": build_parser(), "copy": copy})["--dims"] == ["copy", "stsm-edge"]


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["info", "--help"], ["webcam", "--help"],
                                  ["nonsense"], ["run"], ["info", "--method", "bogus"]])
def test_help_and_usage_errors_load_no_torch(argv):
    """`--help` and usage errors answer at once: torch is imported inside the jobs only."""
    code = ("import sys\nfrom stsm_edge.app.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\nprint('ok')" % argv)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
