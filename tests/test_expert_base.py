"""The skill knob shared by all scripted experts."""

from __future__ import annotations

import numpy as np
import pytest

from lfo.demonstrations.experts.base import ScriptedExpert


class AlwaysZero(ScriptedExpert):
    n_actions = 10

    def _policy(self, env, obs) -> int:
        return 0


@pytest.mark.parametrize("skill", [1.0, 0.9, 0.7, 0.4, 0.0])
def test_skill_is_the_fraction_of_steps_the_controller_plays(skill):
    expert = AlwaysZero(skill=skill, seed=3, lapse_steps=4)
    actions = np.array([expert.act(None, None) for _ in range(40_000)])
    random_steps = actions != 0  # a lapse draws 0 one time in 10
    expected_random = (1 - skill) * 0.9
    assert random_steps.mean() == pytest.approx(expected_random, abs=0.02)


def test_lapses_hold_one_action_for_lapse_steps():
    expert = AlwaysZero(skill=0.5, seed=0, lapse_steps=5)
    actions = [expert.act(None, None) for _ in range(2000)]
    runs, current = [], 0
    for a in actions:
        if a != 0:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    assert runs and all(r % 5 == 0 for r in runs)  # back-to-back lapses give multiples
