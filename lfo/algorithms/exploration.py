"""Exploration policies for the agent's own play: held random actions and ez-greedy.

Per-step random actions barely move a CarRacing car; actions held for several steps
reach speed and turn at speed, which is what the inverse dynamics model must see to label
the expert's pairs. ``held_random_policy`` is the warm-up play; :class:`EzGreedy` keeps
injecting such held random actions into the learner's own play afterwards (temporally
extended epsilon-greedy, Dabney, Ostrovski & Barreto, ICLR 2021; here with a geometric
rather than a zeta-distributed hold so that one parameter, the mean, sets both).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lfo.envs.evaluate import Policy, random_policy


def _check_mean_hold(mean_hold: float) -> None:
    if not mean_hold >= 1:
        raise ValueError(f"mean_hold must be >= 1, got {mean_hold}")


def held_random_policy(n_actions: int, mean_hold: float = 1.0, seed: int = 0) -> Policy:
    """Uniformly random actions, each held for a random number of calls.

    The hold length is geometric with mean ``mean_hold`` (1: a fresh action every call, i.e.
    :func:`lfo.envs.evaluate.random_policy`'s behaviour and draws).
    """
    _check_mean_hold(mean_hold)
    if mean_hold == 1:
        return random_policy(n_actions, seed)  # the same draws as before this option existed
    always_random = EzGreedy(n_actions, epsilon=1.0, mean_hold=mean_hold, seed=seed)
    return lambda obs: always_random(lambda: 0)  # epsilon 1: the learner never acts


class EzGreedy:
    """Temporally extended epsilon-greedy around a learner's own action choice.

    At each decision that is not inside a random hold: with probability ``epsilon`` start a
    uniformly random action held for a geometric number of decisions (mean ``mean_hold``,
    the current decision included); otherwise take the learner's action. ``epsilon = 0``
    never draws from the generator, so it is exactly the learner's own play.
    """

    def __init__(self, n_actions: int, epsilon: float, mean_hold: float,
                 seed: int | Sequence[int] = 0) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        _check_mean_hold(mean_hold)
        self.n_actions, self.epsilon, self.mean_hold = n_actions, epsilon, mean_hold
        self.rng = np.random.default_rng(seed)
        self.action, self.left = 0, 0

    def __call__(self, learner_action: Callable[[], int]) -> int:
        """The next action; ``learner_action`` is called only when the learner acts."""
        if self.left > 0:
            self.left -= 1
            return self.action
        # epsilon 0 and 1 draw no coin, so 0 is the learner's play and 1 the held policy
        if self.epsilon == 1 or (self.epsilon > 0 and self.rng.random() < self.epsilon):
            self.action = int(self.rng.integers(self.n_actions))
            self.left = int(self.rng.geometric(1.0 / self.mean_hold)) - 1
            return self.action
        return int(learner_action())

    def end_episode(self) -> None:
        """Drop a hold in progress (a new episode starts with the learner's choice)."""
        self.left = 0

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "action": self.action, "left": self.left}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.action, self.left = int(state["action"]), int(state["left"])
