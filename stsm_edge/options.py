"""Command-line options declared once, on the job's own config dataclass.

A field made with `option(...)` carries its help (and any argparse setting: choices, flag, metavar); `add_options`
gives a parser one flag per such field, and `config_from` builds the config back from the parsed namespace. The
CLI then holds no copy of a job's settings, and a new setting is one line where the job reads it."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any


def option(default: Any = dataclasses.MISSING, help: str = "", **argparse_settings) -> Any:
    """A dataclass field that is also a command-line flag (`--field-name`, or `flag=`)."""
    return dataclasses.field(default=default, metadata={"help": help, **argparse_settings})


def _flag_type(hint: Any) -> tuple[Any, dict]:
    """argparse's type and nargs for a field's type hint; `X | None` reads as X."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], {"nargs": "+"}
    return hint, {}


def add_options(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if "help" not in field.metadata or field.name in skip:
            continue
        settings = dict(field.metadata)
        flag = settings.pop("flag", "--" + field.name.replace("_", "-"))
        kind, extra = _flag_type(hints[field.name])
        if field.default is dataclasses.MISSING:
            settings["required"] = True
        elif kind is bool:
            settings.update(action="store_true", default=field.default)
        else:
            settings.setdefault("default", field.default)
        if kind is not bool:
            settings.setdefault("type", kind)
            if "choices" not in settings:
                settings.setdefault("metavar", flag.lstrip("-").upper().replace("-", "_"))
            settings = {**extra, **settings}
        parser.add_argument(flag, dest=field.name, **settings)


def config_from(cls: type, args: argparse.Namespace, **given: Any) -> Any:
    """`cls` from the parsed flags of its option fields (lists become tuples), plus `given`."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
              if "help" in f.metadata and hasattr(args, f.name)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}, **given)
