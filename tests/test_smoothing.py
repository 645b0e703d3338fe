"""Smoothing: logit averaging, vote, TSM's hysteresis, the margin, threshold — each shown to change the output;
settings in seconds turned into steps with the model's time step."""

import numpy as np
import pytest

from stsm_edge.errors import InputError
from stsm_edge.smoothing import (
    RECOMMENDED,
    Smoother,
    SmoothingConfig,
    SmoothingFlags,
    SmoothingSeconds,
    majority,
    seconds_to_steps,
)


def one_hot(index, classes=4, strength=5.0):
    logits = np.zeros(classes)
    logits[index] = strength
    return logits


def labels_for(config, sequence):
    smoother = Smoother(config)
    return [smoother.update(one_hot(i)).index for i in sequence]


def test_no_smoothing_follows_every_frame():
    assert labels_for(SmoothingConfig(window=1, min_hold=1), [0, 1, 0, 2]) == [0, 1, 0, 2]


def test_tsm_hysteresis_needs_the_shown_label_held_two_frames():
    # TSM online demo's rule: a change is accepted only if the last two shown labels agree.
    assert labels_for(SmoothingConfig(window=1, min_hold=2), [0, 1, 2, 2, 3, 3]) == [0, 0, 2, 2, 3, 3]
    assert labels_for(SmoothingConfig(window=1, min_hold=1), [0, 1, 2, 2, 3, 3]) == [0, 1, 2, 2, 3, 3]


def test_logit_average_outvotes_a_single_glitch():
    assert labels_for(SmoothingConfig(window=4, min_hold=1), [1, 1, 1, 3, 1]) == [1, 1, 1, 1, 1]


def test_vote_takes_the_majority_with_recent_tie_break():
    assert majority([1, 2, 2, 1]) == 1
    assert labels_for(SmoothingConfig(window=1, vote=3, min_hold=1), [0, 1, 0, 1, 1]) == [0, 1, 0, 1, 1]
    assert labels_for(SmoothingConfig(window=1, vote=3, min_hold=1), [0, 0, 1, 0, 1]) == [0, 0, 0, 0, 1]


def test_threshold_says_no_action_when_unsure():
    smoother = Smoother(SmoothingConfig(window=1, min_hold=1, threshold=0.5))
    assert smoother.update(np.array([0.1, 0.0, 0.05])).index is None
    assert smoother.update(one_hot(2, 3)).index == 2


def test_reset_forgets_history():
    smoother = Smoother(SmoothingConfig(window=5, min_hold=3))
    for i in [0, 0, 0, 0]:
        smoother.update(one_hot(i))
    smoother.reset()
    assert smoother.update(one_hot(3)).index == 3


@pytest.mark.parametrize("bad", [dict(window=0), dict(vote=0), dict(min_hold=0), dict(threshold=1.5),
                                 dict(margin=1.0), dict(margin=-0.1)])
def test_bad_config_is_rejected(bad):
    with pytest.raises(InputError, match=r"^--(smooth-window|threshold|margin)"):
        SmoothingConfig(**bad)


def test_margin_keeps_the_shown_label_until_a_new_one_clearly_beats_it():
    narrow, clear = np.array([1.0, 1.2, 0.0, 0.0]), one_hot(1)  # class 1 ahead by 0.09, then by 0.98

    def shown(margin):
        smoother = Smoother(SmoothingConfig(window=1, min_hold=1, margin=margin))
        return [smoother.update(logits) for logits in (one_hot(0), narrow, clear)]

    assert [r.index for r in shown(0.0)] == [0, 1, 1]
    held = shown(0.5)
    assert [r.index for r in held] == [0, 0, 1]
    assert held[1].score == pytest.approx(float(held[1].probs[0]))  # the score is the held label's


@pytest.mark.parametrize("step, steps", [(1 / 6, 4), (1 / 12, 8), (1 / 24, 16), (1 / 3, 2), (1.0, 1)])
def test_seconds_become_steps_at_the_models_step(step, steps):
    assert seconds_to_steps(0.67, step) == steps
    config = SmoothingSeconds(0.67, 0.33, 0.5, threshold=0.2, margin=0.3).steps(step)
    assert config.window == steps and config.threshold == 0.2 and config.margin == 0.3
    assert config.min_hold == seconds_to_steps(0.33, step) and config.vote == seconds_to_steps(0.5, step)


def test_zero_seconds_is_a_single_step():
    assert SmoothingSeconds(0.0, 0.0).steps(1 / 6) == SmoothingConfig(window=1, vote=1, min_hold=1)


def test_flags_default_to_the_recommended_smoothing_and_override_it_one_by_one():
    recommended = SmoothingSeconds(1.0, 0.5, 0.0, margin=0.25)
    assert SmoothingFlags().resolve(1 / 6, recommended) == SmoothingConfig(6, 1, 3, 0.0, 0.25)
    assert SmoothingFlags().resolve(1 / 6) == RECOMMENDED.steps(1 / 6)  # a model that records none
    assert SmoothingFlags(smooth_s=0.67).resolve(1 / 12, recommended) == SmoothingConfig(8, 1, 6, 0.0, 0.25)
    # The step-count flags are aliases: a count of steps, whatever the model's step.
    assert SmoothingFlags(window=12, min_hold=2).resolve(1 / 12, recommended) == SmoothingConfig(12, 1, 2, 0.0, 0.25)
    assert SmoothingFlags(margin=0.0, threshold=0.4).resolve(1 / 6, recommended).margin == 0.0


@pytest.mark.parametrize("flags, message", [
    (dict(smooth_s=0.5, window=3), "--smooth-s and its step-count alias --smooth-window both given"),
    (dict(min_hold_s=0.5, min_hold=3), "--min-hold-s and its step-count alias --min-hold both given"),
    (dict(smooth_s=-1.0), "--smooth-s, --min-hold-s and --vote-s must be >= 0"),
    (dict(margin=2.0), "--margin must be in"),
    (dict(window=0), "--smooth-window, --vote and --min-hold must be >= 1"),
    (dict(threshold=1.0), "--threshold must be in"),
])
def test_bad_flags_are_one_line_errors(flags, message):
    with pytest.raises(InputError, match=message):
        SmoothingFlags(**flags)
