"""Clips of games the library does not support, for the game detector's checks: random
play of any ALE game, written as a video (the tests and the accuracy measurement share it)."""

from __future__ import annotations

from pathlib import Path

import ale_py
import gymnasium as gym
import numpy as np

from lfo.data.video import write_clip


def record_random_ale_clip(env_id: str, dst: Path, steps: int, seed: int = 1) -> Path:
    """``steps`` native frames of uniformly random play of ``env_id`` (e.g.
    ``ALE/Freeway-v5``), seeded, written to ``dst`` at 15 fps."""
    gym.register_envs(ale_py)
    env = gym.make(env_id)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    frames = []
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        frames.append(obs)
        if terminated or truncated:
            env.reset()
    env.close()
    return write_clip(dst, np.stack(frames), 15.0)
