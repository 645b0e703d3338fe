"""The peers benchmark: its committed report is its results file's arithmetic, its LiteRT stepping matches the
runtime adapter on real artifacts, its FLOP rule matches torch's counter, and (with the peers environment)
X3D-XS builds from pytorchvideo as the clip model the converters take."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import numpy as np
import pytest
from small_models import T, real_frames
from stsm_edge.benchmarks.peers import report, run

SMALL_ARTIFACT_TARGET = "tflite"  # the small model's exports these tests check (tests/conftest.py groups by it)

RESULTS = Path(run.RESULTS)


def committed() -> dict:
    return json.loads((RESULTS / "peers.json").read_text())


def test_committed_report_is_the_results_files_rendering():
    assert (RESULTS / "peers.md").read_text() == report.render(committed())


def test_every_ratio_in_the_report_recomputes_from_the_per_round_times():
    results = committed()
    rows = {row["key"]: row for row in results["rows"]}
    text = report.render(results)
    found = re.findall(r"x(\d+\.\d{3}) \((\d+\.\d{3})-(\d+\.\d{3})\)", text)
    assert len(found) >= 8  # the ratio table and the goals
    for name, r in {**report.ratios(results), **report.other_forms(results)}.items():
        subject, peer = rows[r["subject"]], rows[r["peer"]]
        # recomputed here from the raw per-round medians, not through report.costs
        per_round = [(a / subject["step_s"]) / (b / peer["step_s"]) for a, b in zip(subject["times"], peer["times"])]
        assert len(per_round) == results["rounds"]
        shown = (f"{statistics.median(per_round):.3f}", f"{min(per_round):.3f}", f"{max(per_round):.3f}")
        assert shown in found, name


def test_the_report_says_how_loaded_the_machine_was_where_the_run_recorded_it():
    results = committed()
    results["load_average"] = [0.12, 1.5]
    assert "load average 0.12 before the timing, 1.50 after" in report.render(results)
    del results["load_average"]
    assert "load average" not in report.render(results)


def test_best_form_needs_agreement_with_fp32():
    results = committed()
    best = report.best_rows(results)
    for row in results["rows"]:
        if row["precision"] == "int8" and row["agreement"] is not None and row["agreement"] < results["agreement_min"]:
            assert best[row["model"]] is not row
    # an int8 row that drops under the bar loses its place, even when it is the faster one
    faster_int8 = next(r for r in results["rows"] if r["precision"] == "int8" and best[r["model"]] is r
                       and r["agreement"] is not None)
    faster_int8["agreement"] = results["agreement_min"] - 0.01
    assert report.best_rows(results)[faster_int8["model"]]["precision"] == "fp32"


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_step_matches_the_runtime_adapter_with_states_carried(small_artifact, precision):
    from stsm_edge.runtimes.base import open_runtime

    made = small_artifact("tflite", "stream", precision)
    step = run.Step(made.path)
    runtime = open_runtime(made.path, made.sidecar, threads=1)
    frames = real_frames(6, video="cup.mp4")
    states = step.zero_states()
    assert sorted(states) == sorted(s["name"] for s in made.sidecar["states"])
    carried = [np.zeros(s["shape"], np.float32) for s in made.sidecar["states"]]
    for frame in frames:
        logits, states = step.run(step.feed(frame[None], states))
        expected, *carried = runtime.run([frame[None], *carried])
        np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-6)
    played = run.play(step, [[f[None] for f in frames]] * 2)
    assert len(played) == 2 * len(frames)
    np.testing.assert_array_equal(played[0], played[len(frames)])  # states start from zero at each clip
    assert run.agreement(played, played) == (1.0, pytest.approx(1.0))


def test_flatbuffer_flops_match_torch_per_frame(small_artifact, small_model):
    from small_models import SIZE

    from stsm_edge.models.cost import count_flops

    per_frame = count_flops(small_model, SIZE, SIZE) / T / 1e9
    assert run.gflops(small_artifact("tflite", "stream", "fp32").path) == pytest.approx(per_frame, rel=0.02)


@pytest.mark.skipif(not (run.TORCH_SIDE / "pytorchvideo").exists(),
                    reason="the peers environment is absent (bash benchmarks/peers/setup makes it)")
def test_x3d_xs_builds_from_pytorchvideo_as_a_clip_model():
    import importlib.util

    import torch

    model = run.build_x3d_xs()
    assert importlib.util.find_spec("torchvision") is None  # the stand-in is gone: torch.onnx looks it up
    assert abs(sum(p.numel() for p in model.parameters()) - 3.79e6) < 0.01e6  # the model zoo's 3.79 M
    clip = torch.from_numpy(run.x3d_clips("cup.mp4")[0])
    assert clip.shape == (1, 4, 3, 160, 160)
    with torch.no_grad():
        assert torch.equal(run.clip_model(model)(clip)[0], model(clip.permute(0, 2, 1, 3, 4)))
