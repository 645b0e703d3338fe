"""One source of shift configurations: every entry point that turns a method name into a model goes through
`stsm_edge.shift.PRESETS` (via `resolve_shift`), so "tsm" is TSM's shift (a quarter of the channels) everywhere."""

import json

import pytest
import torch
from stsm_edge.benchmarks.fidelity.run import (
    ABLATION,
    MODELS,
    ablation_lines,
    difference,
    int8_lines,
    paired_differences,
)
from stsm_edge.benchmarks.fidelity.run import main as fidelity_main
from stsm_edge.benchmarks.harness import MODEL_PRESETS, Settings, build, model_family

from stsm_edge.architectures import PRESETS, ShiftConfig, preset_name, resolve_shift
from stsm_edge.checkpoints import load_model, read_checkpoint, save_checkpoint
from stsm_edge.data.motion import MotionSpec, make_motion_data
from stsm_edge.fit.config import TrainConfig
from stsm_edge.models import ModelConfig, build_model
from stsm_edge.models.insert import shift_sites


def shifts_of(model) -> set[ShiftConfig]:
    """The shift every site of a built model applies (one per residual block)."""
    return {site.config for site in shift_sites(model.backbone)}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_training_builds_each_preset_exactly(name):
    model = build_model(TrainConfig(data=".", out=".", method=name, width_mult=0.35).model_config(9))
    expected = PRESETS[name]
    assert shifts_of(model) == (set() if not expected.dims else {expected})


def test_train_cli_method_tsm_is_a_quarter_of_the_channels(tmp_path, cli):
    data = make_motion_data(tmp_path / "m", seed=2, clips_per_class=2, spec=MotionSpec(size=40, frames=8))
    out = tmp_path / "run"
    result = cli("train", "--data", data, "--out", out, "--method", "tsm", "--size", 32, "--segments", 4,
                 "--epochs", 1, "--max-steps", 1, "--workers", 0, "--batch-size", 4, "--pretrained", "none")
    assert result.returncode == 0, result.stderr
    model = load_model(out / "last.pt").model
    assert shifts_of(model) == {ShiftConfig("T", 4, False)}
    assert read_checkpoint(out / "last.pt")["train_config"]["method"] == "tsm"


def test_custom_shift_and_misused_options_on_the_cli(tmp_path, cli):
    assert "fold_div 24, causal" in cli("info", "--method", "custom", "--dims", "THW", "--fold-div", "24", "--causal",
                                        "--size", 32).stdout
    for bad in (["--method", "tsm", "--fold-div", "8"], ["--method", "custom"], ["--method", "tsx"]):
        result = cli("train", "--data", tmp_path, "--out", tmp_path / "o", *bad)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, (bad, result.stderr)
        assert not (tmp_path / "o").exists()


def test_benchmark_and_fidelity_models_are_presets():
    settings = Settings(weights="random", num_classes=5, size=64, width_mult=0.35, segments=4)
    for family, preset in MODEL_PRESETS.items():
        model = build(family, settings)[0]
        assert shifts_of(model) == (set() if family == "plain" else {PRESETS[preset]})
        assert model_family(model.config.to_dict()) == family
    assert {m.name: m.shift for m in MODELS} == {
        "TSN": PRESETS["tsn"], "TSM": PRESETS["tsm"], "TSM online": PRESETS["tsm_online"], "STSM": PRESETS["stsm"],
        "STSM causal": PRESETS["stsm_causal"]}
    assert {alpha: 3 / study.shift.fold_div for alpha, study in ABLATION.items()} == {
        "1/8": 1 / 8, "1/4": 1 / 4, "3/8": 3 / 8, "3/4": 3 / 4}


def test_resolver_names_presets_and_refuses_mixtures():
    assert preset_name(resolve_shift("custom", "T", 4)) == "tsm"
    assert preset_name(ShiftConfig("", 4)) == "tsn"
    with pytest.raises(ValueError, match="use method 'custom'"):
        resolve_shift("stsm", fold_div=4)


def test_a_checkpoint_without_fold_div_loads_with_eight(tmp_path):
    model = build_model(ModelConfig(num_classes=3, n_segments=4, dims="THW", causal=True, width_mult=0.35))
    path = tmp_path / "old.pt"
    save_checkpoint(model, path, ["a", "b", "c"])
    data = torch.load(path, weights_only=True)
    del data["config"]["fold_div"]  # as written before fold_div was recorded
    torch.save(data, path)
    assert shifts_of(load_model(path).model) == {ShiftConfig("THW", 8, True)}


@pytest.mark.slow
def test_fidelity_study_smoke_run_writes_records_table_and_plot(tmp_path):
    """The study's code paths on one tiny run of two models: a record per run, the table, the curves."""
    data = make_motion_data(tmp_path / "m", seed=3, clips_per_class=2, spec=MotionSpec(size=40, frames=8))
    out = tmp_path / "study"
    args = ["--data", str(data), "--out", str(out), "--work", str(tmp_path / "runs"), "--seeds", "0", "--size", "32",
            "--epochs", "1", "--max-steps", "1", "--workers", "0", "--batch-size", "4",
            "--int8-targets", "onnx", "--only", "TSN", "STSM causal"]
    assert fidelity_main(args) == 0
    records = sorted(p.name for p in (out / "runs").glob("*.json"))
    assert records == ["stsm_causal_seed0.json", "tsn_seed0.json"]
    record = json.loads((out / "runs" / "tsn_seed0.json").read_text())
    assert record["status"] == "done" and [e["epoch"] for e in record["epochs"]] == [1]
    assert 0.0 <= record["epochs"][0]["test_top1"] <= 1.0
    table = (out / "table.md").read_text()
    assert "| TSN | none, 8, bidirectional |" in table and "(1 run)" in table and "curves.png" in table
    assert "| STSM causal − STSM | what streaming costs STSM | – |" in table  # no pair: STSM did not run
    causal = json.loads((out / "runs" / "stsm_causal_seed0.json").read_text())
    assert list(causal["int8_top1"]) == ["onnx"] and 0.0 <= causal["int8_top1"]["onnx"] <= 1.0
    int8_gap = (causal["int8_top1"]["onnx"] - causal["epochs"][0]["test_top1"]) * 100
    assert f"| onnx | {causal['int8_top1']['onnx']:.1%} (1 run) | " in table and f"{int8_gap:+.2f} (seeds 0) |" in table
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    mtime = (out / "runs" / "tsn_seed0.json").stat().st_mtime
    assert fidelity_main(args) == 0  # a finished run is not redone
    assert (out / "runs" / "tsn_seed0.json").stat().st_mtime == mtime


def study_record(name, seed, *top1, **fields):
    """A run record as the study writes it, with these test top-1s from epoch 1 on (direction top-1 the same)."""
    return {"name": name, "seed": seed, "status": "done",
            "epochs": [{"epoch": e, "test_top1": v, "test_direction_top1": v} for e, v in enumerate(top1, 1)],
            **fields}


def table_rows(lines):
    """A markdown table's rows by their first cell."""
    return {line.split(" | ")[0]: line for line in lines if line.startswith("| ")}


def test_fidelity_contrasts_pair_runs_by_seed():
    """A minus b is taken seed by seed, over the seeds both reached; the interval is Student's t at n - 1."""
    by_name = {"A": [study_record("A", 0, 0.90), study_record("A", 1, 0.50), study_record("A", 2, 0.70)],
               "B": [study_record("B", 1, 0.46), study_record("B", 0, 0.88)]}
    assert paired_differences(by_name, "A", "B", 1) == pytest.approx([0.02, 0.04])
    assert paired_differences(by_name, "A", "B", 2) == []
    assert difference([0.02, 0.04]) == "+3.0 ± 1.4, CI -9.7 to +15.7 (2 seeds)"
    assert difference([-0.061]) == "-6.1 (1 seed)"
    assert difference([]) == "–"


def test_fidelity_ablation_rows_share_one_seed():
    """The alpha rows compare one seed: the 3/8 row is STSM causal's run on the ablation runs' seed, not its mean."""
    by_name = {"STSM causal": [study_record("STSM causal", 1, 0.40), study_record("STSM causal", 0, 0.90)],
               ABLATION["1/8"].name: [study_record(ABLATION["1/8"].name, 0, 0.70)]}
    rows = table_rows(ablation_lines(by_name, range(1, 2)))
    assert rows["| 3/8"] == "| 3/8 | 8 | 90.0% (1 run) | 90.0% (1 run) |"
    assert rows["| 1/8"] == "| 1/8 | 24 | 70.0% (1 run) | 70.0% (1 run) |"
    assert rows["| 3/4"] == "| 3/4 | 4 | – | – |"
    assert ablation_lines({"STSM causal": by_name["STSM causal"]}, range(1, 2)) == []  # no ablation run yet


def test_fidelity_int8_rows_pair_each_run_with_its_own_fp32():
    """int8 − fp32 is taken run by run, in seed order whatever the file order, over the runs with the target."""
    by_name = {"STSM causal": [study_record("STSM causal", 2, 0.5, 0.90, int8_top1={"onnx": 0.89, "tflite": 0.92}),
                               study_record("STSM causal", 0, 0.5, 0.80, int8_top1={"onnx": 0.81}),
                               study_record("STSM causal", 1, status="running")]}
    rows = table_rows(int8_lines(by_name, range(1, 3)))
    assert rows["| onnx"] == "| onnx | 85.0% ± 5.7% (2 runs) | 85.0% ± 7.1% (2 runs) | +1.00 / -1.00 (seeds 0 / 2) |"
    assert rows["| tflite"] == "| tflite | 92.0% (1 run) | 90.0% (1 run) | +2.00 (seeds 2) |"
    assert "| executorch" not in rows
    assert int8_lines({"TSN": by_name["STSM causal"]}, range(1, 3)) == []
