"""The benchmark harness, results schema, report and Android parsers (no timed assertions anywhere).

The smoke run exercises the whole harness on a tiny model (width 0.35, 96x96, T=4, ONNX only, a few
iterations): export, per-artifact child profiles, the interleaved comparison, the results file and the report.
"""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
from stsm_edge.benchmarks import schema
from stsm_edge.benchmarks.__main__ import main as bench_main
from stsm_edge.benchmarks.android import adb_bench
from stsm_edge.benchmarks.android.parsers import ToolOutputError, parse_benchmark_model, parse_executor_runner
from stsm_edge.benchmarks.report import write_report

from stsm_edge.sidecar import sidecar_path

PNG = b"\x89PNG\r\n\x1a\n"
ROW = {"artifact": "mobilenet_v2_stream_int8.pte", "target": "executorch", "form": "stream", "precision": "int8",
       "threads": 4, "metric": "frame_latency_ms", "p50": 11.8, "p90": 12.9, "p99": 15.2, "mean": 12.1,
       "iterations": 200, "warmup": 20}
DEMO = {"schema": "stsm-edge/bench-results", "version": 1,
        "device": {"model": "Pixel 7", "manufacturer": "Google", "abi": "arm64-v8a", "cores": 8, "android_sdk": 34},
        "results": [ROW], "created": "2025-01-01T12:00:00Z", "app": "org.stsmedge.demo"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    argv = ["run", "--quick", "--targets", "onnx", "--artifacts", str(root / "artifacts"),
            "--results-dir", str(root / "results"), "--report-dir", str(root / "report"), "--device-name", "test-box"]
    assert bench_main(argv) == 0
    return root


# ---- the smoke run --------------------------------------------------------------------------------

@pytest.mark.slow
def test_quick_run_writes_a_valid_results_file(quick_run):
    path = quick_run / "results" / "test-box-quick.json"
    data = schema.load(path)
    assert data["device"]["name"] == "test-box" and data["device"]["cores"] >= 1 and data["device"]["runtimes"]
    artifacts = {(r["target"], r["model"], r["form"], r["precision"]) for r in data["results"]}
    assert {("onnx", "stsm", "stream", "fp32"), ("onnx", "stsm", "stream", "int8"), ("onnx", "stsm", "clip", "int8"),
            ("onnx", "plain", "stream", "int8"), ("onnx", "tsm", "stream", "int8"),
            ("torch", "stsm", "stream", "fp32"), ("torch", "stsm", "clip", "fp32")} <= artifacts
    for row in data["results"]:
        assert row["p50"] <= row["p99"] and row["mean"] > 0 and row["load_ms"] >= 0
        assert row["peak_rss_mb"] >= row["baseline_rss_mb"] > 0 and row["size_bytes"] > 0
        assert row["metric"] == ("frame_latency_ms" if row["form"] == "stream" else "clip_latency_ms")
    stream = next(r for r in data["results"] if (r["model"], r["form"], r["target"]) == ("stsm", "stream", "onnx"))
    plain = next(r for r in data["results"] if r["model"] == "plain")
    assert stream["state_bytes"] > 0 and plain["state_bytes"] == 0  # no shift, no state
    names = {r["name"] for r in data["ratios"]}
    assert names == {"shift_overhead_vs_plain", "shift_overhead_vs_tsm", "int8_over_fp32", "stream_over_clip",
                     "eager_over_artifact"}
    for ratio in data["ratios"]:
        assert ratio["min"] <= ratio["median"] <= ratio["max"] and ratio["rounds"] == len(ratio["values"]) == 3
    (runner,) = data["runner"]  # the STSM int8 stream, on raw 640x480 frames of cup.mp4
    assert (runner["target"], runner["model"], runner["precision"]) == ("onnx", "stsm", "int8")
    assert (runner["frame_width"], runner["frame_height"], runner["size"]) == (640, 480, 96)
    assert runner["preprocess_ms"] > 0 and runner["model_ms"] > 0 and runner["step_ms"] > 0
    assert runner["min"] <= runner["median"] <= runner["max"] and runner["rounds"] == len(runner["values"]) == 3


@pytest.mark.slow
def test_quick_run_writes_the_report(quick_run):
    text = (quick_run / "report" / "README.md").read_text()
    assert "test-box" in text and "Ratios" in text and "shift overhead" in text and "Streaming state" in text
    assert "Runner overhead" in text and "| onnx | `stsm_stream_int8.onnx` | 96² | 640×480 |" in text
    for name in ("latency.png", "ratios.png"):
        assert (quick_run / "report" / name).read_bytes()[:8] == PNG


@pytest.mark.slow
def test_export_cache_is_reused(quick_run, capsys):
    from stsm_edge.benchmarks.harness import Settings, export_all

    settings = Settings.quick_settings(targets=("onnx",), artifacts_dir=quick_run / "artifacts")
    artifacts, skipped = export_all(settings)
    assert not skipped and len(artifacts) == 7
    assert "exporting" not in capsys.readouterr().err


def test_report_merges_devices_and_handles_demo_files(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "pixel-7.json").write_text(json.dumps(DEMO))
    mean_only = copy.deepcopy(DEMO)
    mean_only["device"] = {"name": "phone-b", "cores": 8}
    mean_only["results"][0].update(p50=None, p90=None, p99=None, threads=1)
    (results / "phone-b.json").write_text(json.dumps(mean_only))
    # other benchmarks' results live in the same folder: another schema, or none
    (results / "peers.json").write_text(json.dumps({"schema": "stsm-edge/peers", "rows": []}))
    (results / "data_path.json").write_text(json.dumps({"rows": []}))
    out = write_report(results, tmp_path / "report")
    text = out.read_text()
    assert "Google Pixel 7" in text and "phone-b" in text and "2025-01-01" in text
    assert (tmp_path / "report" / "latency.png").read_bytes()[:8] == PNG


def test_streams_with_their_states_inside_are_compared_with_the_same_streams_carrying_them():
    from pathlib import Path

    from stsm_edge.benchmarks.harness import Artifact, Settings, ratio_pairs, variants

    def artifact(model, form, precision, state="explicit", target="executorch"):
        return Artifact(Path(f"{model}_{form}_{precision}_{state}.pte"), target, model, form, precision, 8, 1, 0,
                        {}, state)

    members = [artifact("stsm", "stream", "fp32"), artifact("stsm", "stream", "int8"),
               artifact("stsm", "stream", "fp32", "internal"), artifact("stsm", "stream", "int8", "internal"),
               artifact("plain", "stream", "int8")]
    pairs = ratio_pairs(members)
    inside = [p for p in pairs if p[0] == "internal_over_explicit"]
    assert [(p[1], p[3], p[4]) for p in inside] == [
        ("fp32", "executorch:stsm:stream:fp32:internal", "executorch:stsm:stream:fp32"),
        ("int8", "executorch:stsm:stream:int8:internal", "executorch:stsm:stream:int8")]
    assert all(":internal" not in key for p in pairs if p not in inside for key in p[3:])  # the other ratios: carried
    assert {v[3] for v in variants(Settings(), keeps_state_inside=False)} == {"explicit"}
    assert [v for v in variants(Settings(), keeps_state_inside=True) if v[3] == "internal"] == [
        ("stsm", "stream", "fp32", "internal"), ("stsm", "stream", "int8", "internal")]
    row = {**ROW, "state": "internal"}
    schema.validate({**DEMO, "results": [row]}, "internal.json")
    assert "state" in _error({**DEMO, "results": [{**ROW, "state": "inside"}]})


# ---- the schema ---------------------------------------------------------------------------------

def test_schema_accepts_the_demo_apps_file():
    schema.validate(copy.deepcopy(DEMO), "demo.json")


def _error(data) -> str:
    with pytest.raises(schema.ResultsError) as info:
        schema.validate(data, "bad.json")
    message = str(info.value)
    assert "\n" not in message and message.startswith("bad.json: ")
    return message


def test_schema_rejects_a_missing_field():
    data = copy.deepcopy(DEMO)
    del data["results"][0]["metric"]
    message = _error(data)
    assert "results[0]" in message and "'metric'" in message and "required" in message


def test_schema_rejects_a_wrong_type():
    data = copy.deepcopy(DEMO)
    data["results"][0]["p50"] = "fast"
    message = _error(data)
    assert "results[0].p50" in message and "'fast'" in message and "number" in message


def test_schema_rejects_an_unknown_metric_and_a_missing_device():
    data = copy.deepcopy(DEMO)
    data["results"][0]["metric"] = "latency"
    assert "results[0].metric" in _error(data)
    data = copy.deepcopy(DEMO)
    del data["device"]
    assert "'device' is a required property" in _error(data)


def test_schema_rejects_another_schema_name_and_version():
    data = dict(DEMO, schema="stsm-edge/artifact")
    message = _error(data)
    assert "schema: expected 'stsm-edge/bench-results', got 'stsm-edge/artifact'" in message
    assert "version" in _error(dict(DEMO, version=2))


def test_schema_load_rejects_bad_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{not json")
    with pytest.raises(schema.ResultsError, match="not valid JSON"):
        schema.load(path)


def test_schema_file_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(schema.schema())


def test_validate_command(tmp_path, capsys):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(DEMO))
    bad.write_text(json.dumps(dict(DEMO, results=[{"artifact": "x"}])))
    assert bench_main(["validate", str(good)]) == 0
    assert bench_main(["validate", str(bad)]) == 1
    assert "bad.json: results[0]" in capsys.readouterr().err


# ---- Android tool output --------------------------------------------------------------------------

ET_OUTPUT = """I 00:00:00.001234 executorch:executor_runner.cpp:180] Model file /data/local/tmp/stsm-bench/m/m.pte is loaded.
I 00:00:00.001300 executorch:executor_runner.cpp:189] Using method forward
I 00:00:00.001400 executorch:executor_runner.cpp:240] Setting up planned buffer 0, size 3211264.
I 00:00:00.051400 executorch:executor_runner.cpp:265] Method loaded.
I 00:00:01.234567 executorch:executor_runner.cpp:312] Model executed successfully 50 time(s) in 1234.567000 ms.
I 00:00:01.234600 executorch:executor_runner.cpp:321] 1 outputs:
Output 0: tensor(sizes=[1, 1000], [-1.2, 0.3, ...])
"""

TFLITE_OLD = """INFO: STARTING!
INFO: Graph: [/data/local/tmp/stsm-bench/m/m.tflite]
INFO: Num threads: [1]
INFO: Loaded model /data/local/tmp/stsm-bench/m/m.tflite
INFO: The input model file size (MB): 3.57
INFO: Initialized session in 7.181ms.
INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=23 first=27034 curr=21791 min=21237 max=27034 avg=22396.7 std=1170

INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=50 first=22417 curr=21559 min=21271 max=23417 avg=21793.4 std=468

INFO: Inference timings in us: Init: 7181, First inference: 27034, Warmup (avg): 22396.7, Inference (avg): 21793.4
INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
INFO: Memory footprint delta from the start of the tool (MB): init=3.56641 overall=11.5312
"""

TFLITE_NEW = """INFO: Initialized session in 119.515ms.
INFO: Running benchmark for at least 5 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=9 first=87112 curr=51629 min=51629 max=87112 avg=58147.4 std=11478 p5=51629 median=51962 p95=87112

INFO: Running benchmark for at least 1000 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=1000 first=52162 curr=49785 min=49088 max=686105 avg=63743.2 std=60716 p5=49620 median=51891 p95=68628

INFO: Inference timings in us: Init: 119515, First inference: 87112, Warmup (avg): 58147.4, Inference (avg): 63743.2
INFO: Peak memory footprint (MB): init=55.4961 overall=55.4961
"""


def test_parse_executor_runner():
    row = parse_executor_runner(ET_OUTPUT)
    assert row["iterations"] == 50 and row["mean"] == pytest.approx(1234.567 / 50)
    assert row["p50"] is None and row["p90"] is None and row["p99"] is None


def test_parse_executor_runner_refuses_output_without_a_total():
    with pytest.raises(ToolOutputError, match="no total time"):
        parse_executor_runner("I 00:00:01.0 executorch:executor_runner.cpp:99] Model executed successfully 10 time(s).")
    with pytest.raises(ToolOutputError, match="Model executed successfully"):
        parse_executor_runner("E 00:00:00.1 executorch:method.cpp:1] Execution failed")


def test_parse_benchmark_model_without_percentiles():
    row = parse_benchmark_model(TFLITE_OLD)
    assert row["iterations"] == 50 and row["warmup"] == 23
    assert row["mean"] == pytest.approx(21.7934) and row["p50"] is None and row["p99"] is None
    assert row["min"] == pytest.approx(21.271) and row["max"] == pytest.approx(23.417)
    assert row["load_ms"] == pytest.approx(7.181) and row["first_ms"] == pytest.approx(27.034)
    assert row["peak_rss_mb"] == pytest.approx(11.5312)


def test_parse_benchmark_model_with_percentiles():
    row = parse_benchmark_model(TFLITE_NEW)
    assert row["iterations"] == 1000 and row["warmup"] == 9
    assert row["p50"] == pytest.approx(51.891) and row["mean"] == pytest.approx(63.7432)
    assert row["p90"] is None and row["peak_rss_mb"] == pytest.approx(55.4961)


def test_parse_benchmark_model_all_same_and_failure():
    row = parse_benchmark_model("INFO: count=1 curr=2\nINFO: count=5 curr=21000(all same)\n")
    assert row["p50"] == pytest.approx(21.0) and row["iterations"] == 5
    with pytest.raises(ToolOutputError):
        parse_benchmark_model("ERROR: Could not open 'm.tflite'.\n")


class FakeAdb(adb_bench.Adb):
    """Records commands; answers like a Pixel running the two tools."""

    def __init__(self):
        super().__init__(None)
        self.commands = []

    def run(self, *args, check=True):
        self.commands.append(args)
        if args[0] != "shell":
            return ""
        command = args[1]
        props = {"ro.product.model": "Pixel 7", "ro.product.manufacturer": "Google", "ro.product.cpu.abi": "arm64-v8a",
                 "ro.build.version.sdk": "34", "ro.build.version.release": "14", "ro.soc.model": "Tensor G2"}
        if command.startswith("getprop "):
            return props.get(command.split()[1], "") + "\n"
        if command == "cat /proc/cpuinfo":
            return "processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimdhp asimddp i8mm\n"
        if command == "cat /proc/meminfo":
            return "MemTotal:        7812344 kB\n"
        if command == "nproc":
            return "8\n"
        if "executor_runner " in command:
            return ET_OUTPUT
        if "benchmark_model " in command:
            return TFLITE_NEW
        return ""


@pytest.mark.slow
def test_adb_driver_end_to_end_with_a_fake_device(quick_run, tmp_path):
    """Sidecars from the smoke run dressed as .pte/.tflite: the driver pushes, runs, parses, writes the schema."""
    sidecar = json.loads(next((quick_run / "artifacts").rglob("stsm_stream_int8.onnx.json")).read_text())
    artifacts = []
    for suffix, target in ((".pte", "executorch"), (".tflite", "tflite")):
        path = tmp_path / f"{target}_stream_int8{suffix}"
        path.write_bytes(b"not a real model")
        sidecar_path(path).write_text(json.dumps(dict(sidecar, target=target, artifact=path.name)))
        artifacts.append(path)
    fake = FakeAdb()
    argv = ["--artifact", str(artifacts[0]), "--artifact", str(artifacts[1]), "--executor-runner", "/bin/true",
            "--benchmark-model", "/bin/true", "--threads", "1,4", "--results-dir", str(tmp_path / "results")]
    assert adb_bench.main(argv, adb=fake) == 0
    data = schema.load(tmp_path / "results" / "google-pixel-7.json")
    assert data["device"]["isa"] == ["NEON", "NEON-FP16", "DOTPROD", "I8MM"] and data["device"]["cores"] == 8
    assert [(r["target"], r["threads"]) for r in data["results"]] == [("executorch", 1), ("executorch", 4),
                                                                       ("tflite", 1), ("tflite", 4)]
    et, tfl = data["results"][0], data["results"][2]
    assert et["mean"] == pytest.approx(1234.567 / 50) and et["p50"] is None
    assert tfl["p50"] == pytest.approx(51.891) and tfl["metric"] == "frame_latency_ms"
    run_commands = [c[1] for c in fake.commands if c[0] == "shell" and "--" in c[1]]
    assert any("--num_executions=100" in c and "--cpu_threads=4" in c and "--inputs=" in c for c in run_commands)
    assert any("--use_xnnpack=true" in c and "--input_layer_value_files=" in c for c in run_commands)
    pushed = [c[1] for c in fake.commands if c[0] == "push"]
    assert any(p.endswith("frame.bin") for p in pushed)


# ---- train_speed ------------------------------------------------------------------------------------------

def test_train_speed_ratios_pair_rows_that_differ_in_one_setting():
    from stsm_edge.benchmarks.train_speed import ratios

    def row(device, amp, data, speed):
        return {"job": "train", "size": 112, "device": device, "amp": amp, "data": data, "clips_per_second": speed}

    rows = [row("cpu", "off", "synthetic", 2.0), row("cpu", "bf16", "synthetic", 3.0),
            row("cuda", "bf16", "synthetic", 300.0), row("cuda", "bf16", "decoded", 150.0)]
    found = {(q["what"], q["device"], q["data"]): q["ratio"] for q in ratios(rows)}
    assert found == {("bf16 / off", "cpu", "synthetic"): 1.5, ("cuda / cpu", "cuda", "synthetic"): 100.0,
                     ("decoded / synthetic", "cuda", "decoded"): 0.5}


@pytest.fixture(scope="module")
def rendered_motion(tmp_path_factory):
    """The small motion set the data benchmarks render into `<work>/motion`, rendered once for this module."""
    from stsm_edge.data.motion import make_motion_data

    data = tmp_path_factory.mktemp("motion") / "motion"
    make_motion_data(data, seed=0, clips_per_class=4, splits=("train",))
    return data


def work_with(rendered_motion, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "motion").symlink_to(rendered_motion)
    return work


def test_train_speed_writes_rows_ratios_and_a_report(tmp_path, rendered_motion):
    from stsm_edge.benchmarks.train_speed import main as train_speed

    work_with(rendered_motion, tmp_path)

    assert train_speed(["--devices", "cpu", "--sizes", "32", "--jobs", "train", "load", "--batch-size", "2",
                        "--cpu-batch-size", "2", "--steps", "1", "--warmup", "1", "--workers", "0", "--device-name", "t",
                        "--out", str(tmp_path), "--work", str(tmp_path / "work"), "--channels-last"]) == 0
    results = json.loads((tmp_path / "train_speed-t.json").read_text())
    assert results["schema"] == "stsm-edge/train-speed" and results["gpu"] is None
    rows = {(r["job"], r["amp"], r["data"]): r for r in results["rows"]}
    assert set(rows) == {(job, amp, batches) for job, amp in (("train", "off"), ("train", "bf16"))
                         for batches in ("synthetic", "decoded", "cached")} | {("load", "off", "decoded"),
                                                                              ("load", "off", "cached")}
    assert all(r["clips_per_second"] > 0 and r["device"] == "cpu" and r["batch_size"] == 2 for r in rows.values())
    assert rows[("train", "off", "synthetic")]["data_wait"] == 0  # no data path: nothing to wait for
    assert {q["what"] for q in results["ratios"]} == {"bf16 / off", "decoded / synthetic", "cached / decoded"}
    assert len(list((tmp_path / "work" / "frame_cache").glob("*.npy"))) == 4  # the (1 + 1) x 2 clips taken, once each
    assert "| train | 32² | cpu | bf16 | decoded | 2 |" in (tmp_path / "train_speed-t.md").read_text()


def test_data_path_times_every_reader_on_the_same_clips(tmp_path, rendered_motion):
    from stsm_edge.benchmarks.data_path import main as data_path

    work = work_with(rendered_motion, tmp_path)
    assert data_path(["--rounds", "1", "--work", str(work), "--results-dir", str(tmp_path / "results")]) == 0
    results = json.loads((tmp_path / "results" / "data_path.json").read_text())
    assert {"opencv before", "opencv", "frame cache", "item decoded", "item cached"} <= set(results["options"])
    assert results["clips"] == 36 and len(list((work / "frame_cache").glob("*.npy"))) == 36
    assert results["options"]["opencv before"]["vs_before"] == 1.0
    assert all(row["median"] > 0 for row in results["options"].values())
    assert "| frame cache |" in (tmp_path / "results" / "data_path.md").read_text()
