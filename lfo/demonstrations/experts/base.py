"""Common interface of the scripted, privileged experts that record demonstration videos.

An expert reads the simulator's internal state (track geometry, RAM) that the learner
never sees, and returns a discrete action. ``skill`` in [0, 1] weakens it on purpose:
it is the expected fraction of steps the controller plays; the rest are *lapses* of
``lapse_steps`` consecutive steps of one uniformly random action (a lapse starts with
the probability that makes the long-run random fraction ``1 - skill``). ``skill=1.0``
is the full expert.
"""

from __future__ import annotations

import abc

import gymnasium as gym
import numpy as np


class ScriptedExpert(abc.ABC):
    """A deterministic-given-seed scripted controller with a tunable skill."""

    #: number of discrete actions of the env this expert plays
    n_actions: int

    def __init__(self, skill: float = 1.0, seed: int = 0, lapse_steps: int = 4) -> None:
        if not 0.0 <= skill <= 1.0:
            raise ValueError(f"skill must lie in [0, 1], got {skill}")
        if lapse_steps < 1:
            raise ValueError(f"lapse_steps must be >= 1, got {lapse_steps}")
        self.skill = skill
        self.lapse_steps = lapse_steps
        # Random-step fraction of a renewal process (lapses of L steps, each free step
        # starting one with probability p) is pL / (pL + 1 - p); solve it for 1 - skill.
        self.lapse_start_prob = (1.0 - skill) / (lapse_steps * skill + 1.0 - skill)
        self._rng = np.random.default_rng(seed)
        self._lapse_left = 0
        self._lapse_action = 0

    def reset(self, env: gym.Env, seed: int | None = None) -> None:
        """Forget per-episode state; call right after ``env.reset``."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._lapse_left = 0
        self._reset_controller(env)

    def act(self, env: gym.Env, obs: np.ndarray) -> int:
        """Action for the current step: the controller's, or a lapse's random one."""
        action = int(self._policy(env, obs))  # always run: keeps controller state in step
        if self._lapse_left == 0 and self._rng.random() < self.lapse_start_prob:
            self._lapse_left = self.lapse_steps
            self._lapse_action = int(self._rng.integers(self.n_actions))
        if self._lapse_left > 0:
            self._lapse_left -= 1
            return self._lapse_action
        return action

    def _reset_controller(self, env: gym.Env) -> None:  # noqa: B027 - optional hook
        """Per-episode controller state (filters, memories); default: none."""

    def describe(self) -> str:
        """The controller's name as recordings state it (a variant in brackets)."""
        return type(self).__name__

    @abc.abstractmethod
    def _policy(self, env: gym.Env, obs: np.ndarray) -> int:
        """The full-skill action, computed from privileged state of ``env.unwrapped``."""
