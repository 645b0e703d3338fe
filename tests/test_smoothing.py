"""Smoothing: logit averaging, vote, TSM's hysteresis, threshold — each shown to change the output."""

import numpy as np
import pytest

from stsm_edge.errors import InputError
from stsm_edge.smoothing import Smoother, SmoothingConfig, majority


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


@pytest.mark.parametrize("bad", [dict(window=0), dict(vote=0), dict(min_hold=0), dict(threshold=1.5)])
def test_bad_config_is_rejected(bad):
    with pytest.raises(InputError, match=r"^--(smooth-window|threshold)"):
        SmoothingConfig(**bad)
