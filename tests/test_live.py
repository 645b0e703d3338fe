"""The live-stream evaluation (stsm_edge.fit.live): streams built from clips, scored by what the label showed, and
a smoke run of its benchmark (python -m stsm_edge.benchmarks.live) and of `stsm-edge eval --live`."""

import json
import subprocess
import sys

import pytest

from stsm_edge.errors import InputError
from stsm_edge.fit.live import (
    PAUSE_LABEL,
    LiveSettings,
    LiveStream,
    Segment,
    _back_and_forth,
    build_stream,
    merge,
    score,
)
from stsm_edge.runner import NO_ACTION

FPS = 10.0


def stream_of(*segments) -> LiveStream:
    """Segments given as (label, frames, pause) back to back, at 10 fps."""
    made, start = [], 0
    for label, frames, pause in segments:
        made.append(Segment(start, start + frames, label, pause))
        start += frames
    return LiveStream(FPS, [], made)


def test_score_counts_reaction_accuracy_never_shown_and_false_switches():
    stream = stream_of(("a", 10, False), (PAUSE_LABEL, 20, True), ("b", 10, False), ("c", 10, False))
    shown = ([NO_ACTION] * 3 + ["a"] * 7  # a: shown after 0.3 s, then right
             + ["a"] * 2 + ["c"] * 3 + [PAUSE_LABEL] * 10 + ["b"] * 2 + [PAUSE_LABEL] * 3  # pause: c, later b
             + ["c"] * 10  # b: never shown
             + ["c"] * 10)  # c: right from its first frame (the label was already c)
    s = score(stream, shown, settle_s=0.5)
    assert s.actions == 3 and s.never_shown == 1 and s.reactions == [pytest.approx(0.3), 0.0]
    assert s.accuracy_all == pytest.approx(17 / 30)
    assert s.accuracy_settled == pytest.approx(10 / 15)  # the last 5 frames of each action
    assert s.false_switches == 2 and s.false_switches_settled == 1  # c at 0.2 s into the pause; b at 1.5 s
    assert s.false_switches_per_minute == pytest.approx(2 / (2 / 60))
    both = merge([s, s])
    assert both.actions == 6 and both.accuracy_all == s.accuracy_all and both.false_switches_per_minute == \
        pytest.approx(s.false_switches_per_minute) and len(both.reactions) == 4


def test_a_pause_plays_one_clip_back_and_forth_without_a_cut():
    assert _back_and_forth(3, 9) == [0, 1, 2, 1, 0, 1, 2, 1, 0]
    assert _back_and_forth(1, 3) == [0, 0, 0]


@pytest.fixture(scope="module")
def motion_list(tmp_path_factory):
    """The seed-7 motion test split at its smallest (two clips per class) at 15 fps."""
    from stsm_edge.benchmarks.live.run import test_split

    return test_split(tmp_path_factory.mktemp("live"), 15.0, clips_per_class=4)


def test_streams_put_actions_back_to_back_with_pauses_between(motion_list):
    from stsm_edge.data.motion import MOTION_CLASSES

    labels = list(MOTION_CLASSES)
    settings = LiveSettings(fps=15.0, repeats=2, pause_s=(0.5, 1.0))
    plain = build_stream(motion_list, labels, settings, pauses=False)
    paused = build_stream(motion_list, labels, settings, pauses=True)
    actions = [s for s in plain.segments if not s.pause]
    assert len(actions) == 16 and not any(s.pause for s in plain.segments)
    assert all(a.label != b.label for a, b in zip(actions, actions[1:]))
    assert {s.label for s in actions} == set(labels) - {PAUSE_LABEL}
    assert [s.pause for s in paused.segments] == [False, True] * 15 + [False]
    assert all(8 <= s.stop - s.start <= 15 for s in paused.segments if s.pause)  # 0.5-1 s at 15 fps
    assert all(s.stop - s.start == 2 * 20 for s in actions)  # a 16-frame clip at 12 fps is 20 frames at 15 fps
    assert sum(len(taken) for _, taken in paused.clips) == paused.frame_count == len(list(paused.frames()))
    with pytest.raises(InputError, match="pauses need 'no motion' clips"):
        build_stream(motion_list, [label for label in labels if label != PAUSE_LABEL] + ["other"], settings, True)


def test_benchmark_smoke_run_writes_table_plot_and_a_curve_that_replays_the_runner(motion_list, tmp_path):
    """The default model on two clips per class at 15 fps: the benchmark checks that replaying the recorded steps
    reproduces the runner's labels, and writes its table, results and plot."""
    from stsm_edge.benchmarks.live.run import choose, grid, main

    work = motion_list.parent.parent
    assert main(["--model", "default", "--fps", "15", "--clips-per-class", "4", "--work", str(work),
                 "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    (row,) = results.values()
    assert row["smoothing"]["window"] == 4 and row["deployed"]["actions"] == 32
    assert len(row["curve"]) == len(grid())
    assert row["deployed"]["reaction_median_s"] < 1.0 and row["deployed"]["accuracy_settled"] > 0.7
    table = (tmp_path / "table.md").read_text()
    assert "| default model (eager fp32) | 15 | window 4, hold 1, vote 1, margin 0.5 |" in table
    assert (tmp_path / "tradeoff.png").stat().st_size > 10_000
    chosen = choose(row["curve"])
    assert chosen is None or chosen["reaction_median_s"] <= 0.5


def test_eval_live_prints_reaction_and_streaming_accuracy(motion_list):
    lines = motion_list.read_text().splitlines()  # clip i is of class i % 9: four actions and a "no motion" clip
    short = motion_list.parent / "short.txt"
    short.write_text("\n".join(lines[:4] + [lines[8]]) + "\n")
    result = subprocess.run([sys.executable, "-m", "stsm_edge", "eval", "--default", "--data", str(short),
                             "--live", "--live-fps", "15", "--repeats", "1", "--smooth-s", "0.5"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    assert "smoothing: window 3 steps (0.50 s)" in result.stdout
    for kind in ("back to back", "with pauses", "both"):
        assert f"\n{kind}: reaction median " in result.stdout
    assert " of 4; streaming accuracy " in result.stdout and " of 8; streaming accuracy " in result.stdout
    assert "false switches/min of no motion" in result.stdout
    bad = subprocess.run([sys.executable, "-m", "stsm_edge", "eval", "--default", "--data", str(motion_list),
                          "--live", "--pause-s", "2", "1"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().endswith("--pause-s takes MIN MAX seconds with 0 < MIN <= MAX")
