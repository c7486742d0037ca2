"""N copies of a game stepped together: the training loop's vector env.

:func:`make_vector_env` builds gymnasium's ``SyncVectorEnv`` (one process) or
``AsyncVectorEnv`` (one worker process per env) over :func:`lfo.envs.games.make_env`,
with gymnasium's automatic reset switched off: the loop sees the true final observation
of a finished episode (what its replay must store) and restarts that env itself with the
episode's own seed (:class:`EpisodeSeeds`), so every training episode is reproducible
whatever the number of envs.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from lfo.data.preprocess import Preprocess
from lfo.envs.games import make_env

#: how the N envs of a vector env run: in this process, or one worker process each
Vectorization = Literal["sync", "async"]


def make_vector_env(
    game: str,
    num_envs: int,
    *,
    vectorization: Vectorization = "sync",
    preprocess: Preprocess | None = None,
    observe_state: bool = False,
    **options: Any,
) -> gym.vector.VectorEnv:
    """``num_envs`` copies of :func:`lfo.envs.games.make_env` stepped as one vector env.

    Automatic reset is off (``AutoresetMode.DISABLED``): reset finished envs with
    ``reset(seed=..., options={"reset_mask": done})`` before the next step.
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    if vectorization not in ("sync", "async"):
        raise ValueError(f"vectorization must be 'sync' or 'async', got {vectorization!r}")
    thunk = functools.partial(make_env, game, preprocess=preprocess,
                              observe_state=observe_state, **options)
    if vectorization == "async":
        return AsyncVectorEnv([thunk] * num_envs, autoreset_mode=AutoresetMode.DISABLED)
    return SyncVectorEnv([thunk] * num_envs, autoreset_mode=AutoresetMode.DISABLED)


class EpisodeSeeds:
    """Seeds of a run's training episodes: episode k (counted over all envs in the order
    they start) plays from ``base + k``. With one env this is the single-env loop's
    sequence; with N, envs 0..N-1 start episodes 0..N-1 and each finished env takes the
    next number."""

    def __init__(self, base: int, started: int = 0) -> None:
        self.base, self.started = base, started

    def take(self, count: int) -> list[int]:
        """Seeds for the next ``count`` episodes to start."""
        seeds = [self.base + self.started + i for i in range(count)]
        self.started += count
        return seeds


def reset_finished(
    envs: gym.vector.VectorEnv, obs: np.ndarray, done: np.ndarray, seeds: EpisodeSeeds
) -> np.ndarray:
    """Restart the envs where ``done`` with the next episode seeds; return the batch of
    observations with theirs replaced by the new episodes' first ones."""
    if not done.any():
        return obs
    fresh = iter(seeds.take(int(done.sum())))
    per_env = [next(fresh) if d else None for d in done]
    new_obs, _ = envs.reset(seed=per_env, options={"reset_mask": np.asarray(done, bool)})
    obs = obs.copy()
    obs[done] = new_obs[done]
    return obs
