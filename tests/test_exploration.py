"""Warm-up exploration: held random actions."""

import numpy as np
import pytest

from lfo.evaluate import held_random_policy, random_policy


def _runs(actions: list[int]) -> list[int]:
    lengths, n = [], 1
    for a, b in zip(actions[:-1], actions[1:], strict=True):
        if a == b:
            n += 1
        else:
            lengths.append(n)
            n = 1
    return lengths


def test_held_actions_last_about_the_mean_and_cover_every_action():
    policy = held_random_policy(5, mean_hold=8.0, seed=0)
    actions = [policy(None) for _ in range(20_000)]
    assert set(actions) == set(range(5))
    # consecutive holds may draw the same action, so a run averages mean_hold / (1 - 1/5)
    assert np.mean(_runs(actions)) == pytest.approx(8.0 / 0.8, rel=0.1)
    assert np.bincount(actions, minlength=5) / len(actions) == pytest.approx(np.full(5, 0.2),
                                                                             abs=0.04)


def test_hold_one_is_the_plain_random_policy():
    a, b = held_random_policy(5, 1.0, seed=3), random_policy(5, seed=3)
    assert [a(None) for _ in range(50)] == [b(None) for _ in range(50)]
    with pytest.raises(ValueError, match="mean_hold"):
        held_random_policy(5, 0.5)
