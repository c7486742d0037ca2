"""Warm-up exploration: held random actions."""

import numpy as np
import pytest

from lfo.algorithms.exploration import EzGreedy, held_random_policy
from lfo.envs.evaluate import random_policy


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


def test_ez_greedy_off_is_the_learners_play_and_never_draws():
    ez = EzGreedy(5, epsilon=0.0, mean_hold=10.0, seed=0)
    before = ez.rng.bit_generator.state
    assert [ez(lambda: 3) for _ in range(100)] == [3] * 100
    assert ez.rng.bit_generator.state == before


def test_ez_greedy_holds_random_actions_for_the_expected_share_of_steps():
    eps, hold, n = 0.1, 5.0, 40_000
    ez = EzGreedy(5, epsilon=eps, mean_hold=hold, seed=1)
    calls = []
    actions = [ez(lambda: calls.append(1) or 0) for _ in range(n)]
    # a decision starts a hold w.p. eps, holds last `hold` steps on average: the share of
    # steps inside holds is eps*hold / (eps*hold + 1 - eps) = 0.357; a fifth of them draw 0
    share = eps * hold / (eps * hold + 1 - eps)
    assert 1 - len(calls) / n == pytest.approx(share, rel=0.06)
    assert np.mean(np.asarray(actions) != 0) == pytest.approx(0.8 * share, rel=0.06)
    always = EzGreedy(5, epsilon=1.0, mean_hold=4.0, seed=2)
    forced = [always(lambda: pytest.fail("the learner must not act at epsilon 1"))
              for _ in range(20_000)]
    assert np.mean(_runs(forced)) == pytest.approx(4.0 / 0.8, rel=0.1)


def test_ez_greedy_state_round_trip_and_episode_end():
    a = EzGreedy(4, epsilon=0.5, mean_hold=6.0, seed=5)
    for _ in range(37):
        a(lambda: 0)
    b = EzGreedy(4, epsilon=0.5, mean_hold=6.0, seed=99)
    b.load_state_dict(a.state_dict())
    assert [a(lambda: 0) for _ in range(200)] == [b(lambda: 0) for _ in range(200)]
    while a.left == 0:  # get inside a hold, then end the episode: the learner acts next
        a(lambda: 0)
    a.end_episode()
    a.epsilon = 0.0
    assert a(lambda: 7) == 7


@pytest.mark.parametrize("kwargs", [{"epsilon": -0.1}, {"epsilon": 1.5},
                                    {"mean_hold": 0.5}])
def test_ez_greedy_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        EzGreedy(5, **{"epsilon": 0.1, "mean_hold": 2.0, **kwargs})
