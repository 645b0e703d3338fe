"""The two forms a model is deployed in, described once for converters, runtimes and the runner.

clip: (1, T, 3, H, W) "frames" -> "logits" (the TSN average), for the windowed baseline.
stream: "frame" (1, 3, H, W) + one 4-D input per state -> "logits" + "new_<state>" per state; or, with the
states kept inside the program (state "internal"), "frame" -> "logits".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from stsm_edge.architectures import FORMS, STATE_LOCATIONS
from stsm_edge.errors import CalibrationError, InputError
from stsm_edge.models.tsn import TemporalSegmentNetwork
from stsm_edge.smoothing import RECOMMENDED, RECOMMENDED_SOURCE
from stsm_edge.streaming import InternalStateModel, StateSpec, state_spec, to_streaming


class ClipForm(nn.Module):
    """The clip model with a tuple output, like the streaming form, so every converter sees one shape."""

    def __init__(self, model: TemporalSegmentNetwork) -> None:
        super().__init__()
        self.model = model

    def forward(self, frames: Tensor) -> tuple[Tensor]:
        return (self.model(frames),)


@dataclass
class FormSpec:
    module: nn.Module
    input_names: list[str]
    output_names: list[str]
    inputs: list[dict]
    outputs: list[dict]
    states: list[StateSpec]
    state: str = "explicit"  # where a stream keeps its states (STATE_LOCATIONS); a clip has none

    @property
    def keeps_state_inside(self) -> bool:
        return self.state == "internal"


def _tensor(name: str, shape: Sequence[int]) -> dict:
    return {"name": name, "shape": list(shape), "dtype": "float32", "quantization": None}


def build_form(model: TemporalSegmentNetwork, form: str, height: int, width: int, state: str = "explicit") -> FormSpec:
    """The module and I/O of one form; `state` says where a stream keeps its states (STATE_LOCATIONS)."""
    if form not in FORMS:
        raise InputError(f"unknown form {form!r}; choose clip or stream")
    if state not in STATE_LOCATIONS:
        raise InputError(f"unknown state location {state!r}; choose {' or '.join(STATE_LOCATIONS)}")
    if form == "clip" and state != "explicit":
        raise InputError(f"the clip form carries no state; state={state} is for the stream form")
    k = model.config.num_classes
    if form == "clip":
        shape = [1, model.n_segments, 3, height, width]
        return FormSpec(ClipForm(model).eval(), ["frames"], ["logits"], [_tensor("frames", shape)],
                        [_tensor("logits", [1, k])], [])
    streaming = to_streaming(model)
    states = state_spec(streaming, height, width)
    inputs, outputs = [_tensor("frame", [1, 3, height, width])], [_tensor("logits", [1, k])]
    if state == "internal":
        return FormSpec(InternalStateModel(streaming, states).eval(), ["frame"], ["logits"], inputs, outputs, states,
                        state)
    inputs += [_tensor(s.name, s.shape) for s in states]
    outputs += [_tensor("new_" + s.name, s.shape) for s in states]
    return FormSpec(streaming, [t["name"] for t in inputs], [t["name"] for t in outputs], inputs, outputs, states)


def zero_inputs(form: FormSpec) -> tuple[Tensor, ...]:
    return tuple(torch.zeros(spec["shape"]) for spec in form.inputs)


def form_inputs(form: FormSpec, frames: Sequence[np.ndarray], n_segments: int, clip_stride: int = 1) -> list[tuple[Tensor, ...]]:
    """Input tuples for a form from preprocessed (3, H, W) frames, in order.

    Clip form: windows of T consecutive frames every `clip_stride` frames. Stream form: one tuple per
    frame, whose states are those the float streaming model produced on the frames before it — so
    int8 calibration sees the states it will meet at run time, not zeros (MoViNet's lesson). With the
    states inside, a tuple is the frame alone: the module carries the states as the tuples run in order.
    """
    tensors = [torch.from_numpy(np.ascontiguousarray(f)).unsqueeze(0) for f in frames]
    if form.input_names == ["frames"]:
        if len(tensors) < n_segments:
            raise CalibrationError(f"need at least {n_segments} frames for a clip, got {len(tensors)}")
        starts = range(0, len(tensors) - n_segments + 1, clip_stride)
        return [(torch.cat(tensors[s : s + n_segments]).unsqueeze(0),) for s in starts]
    if form.keeps_state_inside:
        return [(frame,) for frame in tensors]
    states = tuple(torch.zeros(spec.shape) for spec in form.states)
    feed = []
    with torch.no_grad():
        for frame in tensors:
            feed.append((frame, *states))
            states = tuple(form.module(frame, *states)[1:])
    return feed


def as_clips(frames: Sequence) -> list[list[np.ndarray]]:
    """Clips of preprocessed (3, H, W) frames: a flat sequence of frames is one clip; empty clips are dropped."""
    items = list(frames)
    if items and isinstance(items[0], np.ndarray) and items[0].ndim == 3:
        return [items]
    return [list(clip) for clip in items if len(clip)]


def clip_feeds(form: FormSpec, clips: Sequence[Sequence[np.ndarray]], n_segments: int,
               clip_stride: int = 1) -> list[list[tuple[Tensor, ...]]]:
    """`form_inputs` of each clip on its own, so a stream's states start from zero at every clip, as a runner's do
    at a new stream, and a clip form's windows never straddle two clips. A clip too short for the clip form's one
    window is left out."""
    if form.input_names == ["frames"]:
        clips = [clip for clip in clips if len(clip) >= n_segments]
    return [form_inputs(form, clip, n_segments, clip_stride) for clip in clips]


def form_sidecar(model: TemporalSegmentNetwork, spec: FormSpec, form: str, labels: Sequence[str], preprocess,
                 **fields) -> dict:
    """The sidecar fields every artifact of this form shares (the converters add theirs)."""
    stream_fields = {"state": spec.state} if form == "stream" else {}
    return {"smoothing": {**RECOMMENDED.to_dict(), "source": RECOMMENDED_SOURCE},
        "form": form, "model": model.config.to_dict(), "labels": list(labels), "preprocess": preprocess.to_dict(),
        "inputs": copy.deepcopy(spec.inputs), "outputs": copy.deepcopy(spec.outputs),  # converters edit theirs
        "states": [s.to_dict() for s in spec.states], **stream_fields, **fields,
    }
