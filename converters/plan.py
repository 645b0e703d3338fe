"""What `stsm-edge export` is asked for (ExportPlan): targets, forms, precision, where a stream keeps its state, the
calibration and verification frames. Torch-free, so `export --help` answers at once; the plan checks what it can
before a model is loaded (a target that is not installed, a misspelt converter option). converters/export.py
carries it out."""

from __future__ import annotations

import json
from dataclasses import dataclass

from stsm_edge.converters.targets import PRECISIONS, TARGETS

from stsm_edge.architectures import FORMS, STATE_LOCATIONS
from stsm_edge.errors import InputError
from stsm_edge.options import OUT, STEP_MS, ModelFlags, option


@dataclass(frozen=True)
class ExportPlan:
    target: str = option("all", "", choices=(*TARGETS, "all"))
    form: str = option("both", "clip (T frames in), stream (a frame, and the shift states unless --state internal) "
                               "or both", choices=(*FORMS, "both"))
    precision: str = option("fp32", "", choices=PRECISIONS)
    state: str = option("explicit", "where a stream keeps the shift's memory: explicit (state inputs and outputs the "
                                    "runner carries) or internal (inside the program: executorch, coreml)",
                        choices=STATE_LOCATIONS)
    out: str = OUT.use("where the artifacts and their sidecars go").field("out")
    calib: str | None = option(None, "video, image folder or clip list for int8 calibration, paced at the model's "
                                      "time step, states reset per clip (default: a motion-benchmark model's train "
                                      "clips, else box.mp4)")
    calib_frames: int = option(96, "calibration frames (model steps) over all clips")
    calib_stride: int = option(2, "every n-th image of an image folder, which has no timestamps to pace")
    verify: str | None = option(None, "held-out clip list (or video, image folder) for the parity check, paced at the "
                                      "model's time step (default: a motion-benchmark model's val clips, else every "
                                      "4th clip of a --calib list, else cup.mp4)")
    verify_frames: int = option(216, "verification frames (model steps) over all clips")
    weak_verify: bool = option(False, "accept a verification whose controls (no temporal state) clear the bar too; "
                                      "the sidecar records it")
    motion_seed: int = option(0, "seed of the motion benchmark clips that calibrate and verify a motion-benchmark "
                                 "model (0: the default model's own train and val splits)")
    size: int | None = ModelFlags.size.field(None)  # default: the model's own
    step_ms: float | None = STEP_MS.field(None)  # default: the checkpoint's
    converter_option: tuple[str, ...] | None = option(
        None, "a converter option KEY=VALUE, e.g. shift_form=training or quant_format=qdq (repeatable; each target's "
              "options are its dataclass in stsm_edge/converters)", flag="--option", action="append", nargs=None,
        metavar="KEY=VALUE")

    @property
    def targets(self) -> tuple[str, ...]:
        return TARGETS if self.target == "all" else (self.target,)

    @property
    def forms(self) -> tuple[str, ...]:
        return FORMS if self.form == "both" else (self.form,)

    @property
    def converter_options(self) -> dict:
        """KEY=VALUE pairs, each value read as JSON when it is (a number, true/false), else as text; plus `state`
        when it is not the default (only the targets that can keep states inside have that option)."""
        options = {"state": self.state} if self.state != "explicit" else {}
        for pair in self.converter_option or ():
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise InputError(f"--option takes KEY=VALUE, got {pair!r}")
            try:
                options[key] = json.loads(value)
            except json.JSONDecodeError:
                options[key] = value
        return options

    def __post_init__(self) -> None:
        """Checks that need no model, so a bad request fails before one is loaded."""
        from stsm_edge.converters.base import get_converter

        if self.size is not None and self.size < 1:
            raise InputError(f"--size must be a positive number of pixels, got {self.size}")
        if self.calib_stride < 1:
            raise InputError(f"--calib-stride must be >= 1, got {self.calib_stride}")
        if len(self.targets) == 1:
            get_converter(self.targets[0]).check_available()
        if self.state != "explicit" and self.forms != ("stream",):
            raise InputError(f"--state {self.state} needs --form stream: the clip form carries no state")
        for target in self.targets:  # a misspelt option fails before a model is loaded
            converter = get_converter(target)
            if self.state != "explicit" and not converter.can_keep_state_inside():
                able = [t for t in TARGETS if get_converter(t).can_keep_state_inside()]
                raise InputError(f"target {target!r} keeps a stream's states explicit only; --state {self.state} "
                                 f"is for {', '.join(able)}")
            converter.options(self.converter_options)
