"""Command-line flags, each declared once, and the groups that several commands share.

A `Flag` is one definition: its help and argparse settings (choices, metavar, `flag=` for another name). A config
dataclass takes it as a field (`Flag.field(default)`; `option(...)` declares a flag used by one config only), with
its own default. `add_options` gives a parser one flag per such field and marks each argparse action with the
`Flag` it came from, so a test can tell one definition reused from two copies; `config_from` builds the config
back from the parsed namespace.

The groups: the model (`ModelFlags`), the shift (`ShiftFlags`), the runner (`RunnerFlags`, `RunnerSettings`),
fitting (`FitFlags`, train and distill), the time step (`STEP_MS`), the benchmarks (`BenchFlags`) and the names many
programs take (`OUT`, `DATA`, `MODEL`...) here; smoothing is `smoothing.SmoothingFlags`, a checkpoint from another
tool `ForeignFlags` and the device `DeviceConfig` here too. A command that needs its own words for a
shared flag takes a use of it (`Flag.use`), which is still the one definition. Torch-free, as are the choices it
names (stsm_edge.architectures), so `--help` answers at once."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, Mapping

from stsm_edge.architectures import BACKBONES, LAYOUT_NAMES, METHODS, PRESETS
from stsm_edge.errors import InputError, WeightsError

FLAG = "flag"  # the key of a field's metadata that holds its Flag


@dataclasses.dataclass(frozen=True, eq=False)  # compared by identity: the same definition is the same object
class Flag:
    help: str
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    base: Flag | None = None  # the definition this one is a use of

    @property
    def definition(self) -> Flag:
        """The one definition behind this flag: itself, or the flag it is a use of."""
        return self.base or self

    def use(self, help: str | None = None, **settings) -> Flag:
        """This flag as one command takes it, with its own help (and choices, type...): the name still means the
        same thing, so it stays one definition."""
        return Flag(self.help if help is None else help, {**self.settings, **settings}, self.definition)

    def field(self, default: Any = dataclasses.MISSING) -> Any:
        """A dataclass field that takes this flag (`--field-name`, or the `flag` setting)."""
        return dataclasses.field(default=default, metadata={FLAG: self})


def flag(help: str = "", **argparse_settings) -> Flag:
    return Flag(help, argparse_settings)


def option(default: Any = dataclasses.MISSING, help: str = "", **argparse_settings) -> Any:
    """A dataclass field with a flag of its own, used by this config alone."""
    return flag(help, **argparse_settings).field(default)


def add_flag(parser: argparse.ArgumentParser, definition: Flag, *names: str, **settings) -> argparse.Action:
    """Add `definition` to a parser under `names` (default: its `flag` setting), marked as coming from it."""
    merged = {**definition.settings, **settings}
    names = names or (merged.pop("flag"),)
    merged.pop("flag", None)
    action = parser.add_argument(*names, **{"help": definition.help, **merged})
    action.definition = definition.definition
    return action


def _flag_type(hint: Any) -> tuple[Any, dict]:
    """argparse's type and nargs for a field's type hint; `X | None` reads as X."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], {"nargs": "+"}
    return hint, {}


def option_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if FLAG in f.metadata]


def add_options(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    hints = typing.get_type_hints(cls)
    for field in option_fields(cls):
        if field.name in skip:
            continue
        definition: Flag = field.metadata[FLAG]
        settings = dict(definition.settings)
        name = settings.pop("flag", "--" + field.name.replace("_", "-"))
        kind, extra = _flag_type(hints[field.name])
        if field.default is dataclasses.MISSING:
            settings["required"] = True
        elif kind is bool:
            settings.update(action="store_true", default=field.default)
        else:
            settings["default"] = field.default
        if kind is not bool:
            settings.setdefault("type", kind)
            if "choices" not in settings:
                settings.setdefault("metavar", name.lstrip("-").upper().replace("-", "_"))
            settings = {**extra, **settings}
        add_flag(parser, definition, name, dest=field.name, flag=name, **settings)


def config_from(cls: type, args: argparse.Namespace, **given: Any) -> Any:
    """`cls` from the parsed flags of its option fields (lists become tuples), plus `given`."""
    values = {f.name: getattr(args, f.name) for f in option_fields(cls) if hasattr(args, f.name)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}, **given)


def definitions(parser: argparse.ArgumentParser) -> list[tuple[str, object]]:
    """(flag name, its definition) of every flag of a parser and its subcommands' parsers; a flag added without a
    `Flag` is its own definition (the argparse action). Help is left out: argparse adds it to every parser."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases name one parser twice
                found += definitions(sub)
        elif not isinstance(action, argparse._HelpAction):
            found += [(name, getattr(action, "definition", action)) for name in action.option_strings]
    return found


class ShiftFlags:
    """The shift a model is built with: a preset name, or `custom` with explicit dims, fold_div and causality
    (resolved by architectures.resolve_shift). Train, distill (the student's) and info take it."""

    method = flag("shift preset, or custom with --dims/--fold-div/--causal", choices=METHODS, flag="--method")
    dims = flag("custom shift: dimensions that shift, in order (letters of THW)")
    fold_div = flag("custom shift: each dimension's group is C // fold_div (default 8)")
    causal = flag("custom shift: the T group takes frame t-1 only (streamable)")


class ModelFlags:
    """The model a command builds: backbone, frames per clip, width and input side (info, train, export)."""

    backbone = flag("", choices=BACKBONES, flag="--backbone")
    segments = flag("frames per clip (T)", flag="--segments")
    width_mult = flag("width multiplier of the backbone's channels", flag="--width-mult")
    size = flag("input side in pixels", flag="--size")


# The model's time step: what train and distill sample at, what export records and what the runner paces at.
STEP_MS = flag("the model's time step in ms: train and distill sample frames this far apart by timestamp (any clip "
               "length or fps gives the same step); export records it; run, webcam and eval pace at it (default: the "
               "one the model records)", flag="--step-ms")


# Names that many programs take. Each means one thing wherever it appears, so it is one definition; a program says
# what it is there (`Flag.use`: its own help, default or type) when it adds it.
OUT = flag("where the output goes", flag="--out")
DATA = flag("the labelled clips", flag="--data")
MODEL = flag("a model to run: an artifact, or a checkpoint of any layout", flag="--model")
SEED = flag("random seed", flag="--seed")
WORK = flag("scratch folder for what a program makes on the way (not committed)", flag="--work")
FPS = flag("frames per second of video", flag="--fps")
CLIPS_PER_CLASS = flag("motion benchmark clips rendered per class (val and test get a quarter as many)",
                       flag="--clips-per-class")
TEACHER = flag("the teacher checkpoint: stsm-edge, MMAction2, TSM or torchvision", flag="--teacher")
TEMPERATURE = flag("distillation temperature: softens both distributions (the loss is scaled by T^2)",
                   flag="--temperature")


class BenchFlags:
    """What the benchmark programs share: the artifacts and runtimes timed, how often, and where results go."""

    artifact = flag("time this artifact (repeatable)", flag="--artifact")
    targets = flag("comma-separated runtimes", flag="--targets")
    rounds = flag("interleaved comparison rounds", flag="--rounds")
    repeats = flag("runs of each artifact per round", flag="--k")
    variants = flag("comma-separated variants to time", flag="--variants")
    runs = flag("timed runs of each artifact", flag="--runs")
    results_dir = flag("where results files go", flag="--results-dir")
    device_name = flag("the device the results are filed under", flag="--device-name")
    warmup = flag("untimed runs before the timed ones", flag="--warmup")
    note = flag("what a reader of the results should know about this run (a shared machine, say)", flag="--note")
    quick = flag("tiny model (width 0.35, 96x96, T=4), few iterations: a smoke run", flag="--quick",
                 action="store_true")


class RunnerFlags:
    """How a model runs frame by frame (runner.FrameBufferRunner): run, webcam and eval."""

    threads = flag("runtime threads", flag="--threads")
    stride = flag("clip models: a clip every N model steps")
    no_pacing = flag("a model step per frame (motion at the wrong speed; a control)")
    max_frames = flag("stop after this many frames")


@dataclasses.dataclass(frozen=True)
class RunnerSettings:
    """The runner group as `run` and `webcam` take it."""

    threads: int | None = RunnerFlags.threads.field(None)
    stride: int = RunnerFlags.stride.field(1)
    step_ms: float | None = STEP_MS.field(None)
    no_pacing: bool = RunnerFlags.no_pacing.field(False)
    max_frames: int | None = RunnerFlags.max_frames.field(None)


class FitFlags:
    """What train and distill share: the run folder, the loop's length and step, the data loader, the seed."""

    out = OUT.use("run folder: log.jsonl, last.pt, best.pt")
    epochs = flag("training epochs", flag="--epochs")
    batch_size = flag("clips per batch", flag="--batch-size")
    lr = flag("base learning rate (for --batch-size 8)", flag="--lr")
    workers = flag("data loader processes", flag="--workers")
    prefetch = flag("batches each loader process keeps ready", flag="--prefetch")
    frame_cache = flag("keep each video's decoded frames in this folder and read them from there after the first "
                       "epoch (no decoding; costs disk: frames as decoded)", flag="--frame-cache", metavar="DIR")
    seed = SEED
    max_steps_per_epoch = flag("stop each epoch after this many steps (smoke runs)", flag="--max-steps")


AMP_MODES = ("off", "bf16", "fp16")


def parse_device(text: str) -> tuple[str, int | None]:
    """`auto`, `cpu`, `cuda` or `cuda:N` -> (kind, index or None); anything else is a one-line error."""
    kind, _, index = text.partition(":")
    if kind in ("auto", "cpu", "cuda") and not index:
        return kind, None
    if kind == "cuda" and index.isdigit():
        return kind, int(index)
    raise InputError(f"--device: unknown device {text!r}; choose auto, cpu, cuda or cuda:N")


class DeviceFlags:
    """Where a fitting or scoring job runs, and how: train, distill, eval, the studies and the training benchmark."""

    device = flag("auto, cpu, cuda or cuda:N (auto: the local rank's GPU under torchrun, else the first GPU, else "
                  "the CPU)", flag="--device")
    amp = flag("mixed precision: autocast in bf16, or fp16 with a grad scaler (GPUs only)", choices=AMP_MODES,
               flag="--amp")
    channels_last = flag("the model's tensors in channels-last order (with --amp, much faster convolutions on GPUs)",
                         flag="--channels-last")


@dataclasses.dataclass(frozen=True)
class DeviceConfig:
    """The device group (fit.device.Accelerator resolves it)."""

    device: str = DeviceFlags.device.field("auto")
    amp: str = DeviceFlags.amp.field("off")
    channels_last: bool = DeviceFlags.channels_last.field(False)

    def __post_init__(self) -> None:
        parse_device(self.device)
        if self.amp not in AMP_MODES:
            raise InputError(f"--amp: unknown mode {self.amp!r}; choose {', '.join(AMP_MODES)}")


@dataclasses.dataclass(frozen=True)
class ForeignFlags:
    """What a checkpoint from another tool does not record (checkpoints.LoadOptions.from_flags): every command that
    opens a checkpoint takes these."""

    labels: str | None = option(None, "class names, one per line (default: the checkpoint's; Kinetics-400's for "
                                      "400 classes from another tool)")
    method: str | None = ShiftFlags.method.use("the shift a checkpoint from another tool was trained with (default: "
                                               "its layout's or MMAction2 config's, else tsm)",
                                               choices=tuple(PRESETS)).field(None)
    segments: int | None = ModelFlags.segments.use("its frames per clip (default: its MMAction2 config, else 8)"
                                                   ).field(None)
    layout: str | None = option(None, "read its keys in this layout (default: detected)", choices=LAYOUT_NAMES)

    def __post_init__(self) -> None:
        if self.segments is not None and self.segments < 1:
            raise WeightsError(f"--segments must be >= 1, got {self.segments}")
