"""The ExecuTorch attribution (benchmarks/et_attribution.py) on the small model's real programs: which operators it
calls the shift's, the states' and the backbone's, and that the parts of a call add up to the call."""

from __future__ import annotations

import numpy as np
import pytest
from small_models import LABELS, NUM_CLASSES, SPEC, T
from stsm_edge.benchmarks import et_attribution
from stsm_edge.converters.base import export_artifact

from stsm_edge.models import stsm_mobilenet_v2

SMALL_ARTIFACT_TARGET = "executorch"  # the small model's exports these tests check (tests/conftest.py groups by it)

pytest.importorskip("executorch")


@pytest.fixture(scope="module")
def calls(small_artifact, small_frames, tmp_path_factory):
    """ETDump of the small model's fp32 stream (states carried and inside), and of the same backbone unshifted."""
    plain = stsm_mobilenet_v2(num_classes=NUM_CLASSES, n_segments=T, dims="", width_mult=0.35, dropout=0.0).eval()
    frames = small_frames["held_out"]
    paths = {"stsm": small_artifact("executorch", "stream", "fp32").path,
             "internal": small_artifact("executorch", "stream", "fp32", "internal").path,
             "plain": export_artifact(plain, "executorch", "stream", "fp32", tmp_path_factory.mktemp("plain"),
                                      frames[:4], frames[:4], LABELS, SPEC).path}
    states = len(small_artifact("executorch", "stream", "fp32").sidecar["states"])
    return et_attribution.profile(paths, frames[:4], rounds=10, k=3), states


def by_part(result: dict) -> dict:
    return {row["part"]: row for row in result["rows"]}


def test_the_operators_only_stsm_runs_are_the_shift_and_the_states(calls):
    measured, states = calls
    parts = by_part(et_attribution.attribute(measured["stsm"], measured["plain"]))
    # One one-hot depthwise conv per shift site (a state per site), every backbone operator matched with its twin.
    assert parts["shift: one-hot depthwise 3×3 convs"]["operators"] == states
    assert parts["shift: T-group splice (slices + copies)"]["operators"] > 0
    assert not [p for p in parts if p.startswith(("only in the reference", "other"))], sorted(parts)
    for part, row in parts.items():
        if part.startswith("backbone"):
            assert row["operators"] == row["reference_operators"] > 0, part


def test_states_inside_add_only_their_write_back_outside_the_delegate(calls):
    measured, states = calls
    result = et_attribution.attribute(measured["internal"], measured["stsm"])
    parts = by_part(result)
    assert result["outside_operators"] == states and measured["stsm"].outside_count == 0
    assert parts[et_attribution.NON_OPERATOR["outside"]]["program_ms"] > 0
    assert not [p for p in parts if p.startswith(("only in the reference", "shift", "states", "other"))], sorted(parts)


def test_the_parts_of_a_call_are_what_it_spends(calls):
    """Every part but ETDump's own is time spent (none negative), the parts add up to the total, and without ETDump's
    part they are the measured call with ETDump on to within a factor two (a sign or unit slip, or the operators left
    out, breaks one of these). ETDump's part, a difference of two medians of whole calls, is too noisy to bound."""
    measured, _ = calls
    result = et_attribution.attribute(measured["internal"], measured["plain"])
    for side, name in (("program_ms", "internal"), ("reference_ms", "plain")):
        parts = {row["part"]: row[side] for row in result["rows"]}
        assert sum(parts.values()) == pytest.approx(result[side], abs=2e-3)
        recording = parts.pop(et_attribution.ETDUMP)
        assert all(value >= 0 for value in parts.values()), parts
        assert 0.5 < (result[side] - recording) / float(np.median(measured[name].wall)) < 2.0
