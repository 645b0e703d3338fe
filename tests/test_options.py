"""Each flag is declared once: every parser the project has (each `stsm-edge` command's, `stsm-edge bench`'s and the
benchmarks' own) is built, and no two definitions of a flag may share its name unless they are the same object
(an options.Flag reused by every command that takes it, or a use of it with its own help)."""

import argparse
import importlib
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from stsm_edge.app.cli import COMMANDS, build_parser
from stsm_edge.options import OUT, FitFlags, RunnerFlags, ShiftFlags, add_flag, add_options, definitions


def benchmark_programs() -> list[str]:
    """Every benchmark module that parses its own flags in main(), found in its source (none is left out by hand).
    A script that runs in another environment (peers/movinet_tf.py, in TensorFlow's venv) cannot import the
    options; it is the one kind left out, known by importing nothing from stsm_edge."""
    import stsm_edge.benchmarks as benchmarks

    root = Path(benchmarks.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        if "ArgumentParser(" in text and "\ndef main(" in text and "from stsm_edge" in text:
            found.append(".".join(("stsm_edge.benchmarks", *path.relative_to(root).with_suffix("").parts)))
    return found


# The benchmarks' programs parse their own flags in main(); each is run up to its parse and the parser kept.
PROGRAMS = benchmark_programs()

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
    twice = redefined(parsers)
    assert not twice, f"flags defined more than once (declare a Flag in stsm_edge.options and reuse it): {twice}"


def test_a_use_of_a_flag_is_its_definition():
    """A command may say what a shared flag is for it (its help, default, type) without a second definition."""
    run_folder = FitFlags.out
    assert run_folder.definition is OUT and run_folder.help != OUT.help
    parser = argparse.ArgumentParser()
    add_flag(parser, OUT.use("an annotated video"), default="x.mp4")
    assert dict(definitions(parser))["--out"] is OUT


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


@pytest.mark.parametrize("argv", [["--help"], *([command, "--help"] for command in COMMANDS), ["nonsense"], ["run"],
                                  ["info", "--method", "bogus"], ["train", "--data", "d"], ["export", "--target", "x"],
                                  ["eval", "--default", "--data", "d", "--amp", "fp8"]])
def test_help_and_usage_errors_load_no_torch(argv):
    """`--help` and usage errors answer at once: torch is imported inside the jobs only."""
    code = ("import sys\nfrom stsm_edge.app.cli import main\ntry:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\nprint('ok')" % argv)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_the_torch_free_name_lists_match_what_they_name():
    """The command line offers choices from lists it can read without torch; each must equal its source."""
    from stsm_edge.converters.base import REGISTRY, get_converter
    from stsm_edge.converters.targets import PRECISIONS, TARGETS

    from stsm_edge.architectures import LAYOUT_NAMES
    from stsm_edge.checkpoints.detect import LAYOUTS

    assert LAYOUT_NAMES == tuple(LAYOUTS)
    for target in TARGETS:
        get_converter(target)
    assert set(REGISTRY) == set(TARGETS)  # registration order follows whichever test imported a converter first
    offered = {p for cls in REGISTRY.values() for p in cls.precisions}
    assert set(PRECISIONS) == offered
