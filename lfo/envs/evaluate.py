"""Evaluate policies on seeded episodes: returns, normalised scores, recorded play.

Evaluation seeds come from :data:`EVAL_SEEDS` (0-9999), disjoint from the
demonstration clips' seeds (10000 and up, see ``scripts/record_videos.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from lfo.data.preprocess import Preprocess
from lfo.envs.games import make_env

#: evaluation seeds live below this; demonstration clips are recorded from it upwards
DEMO_SEED_BASE = 10_000
EVAL_SEEDS = range(0, DEMO_SEED_BASE)

Policy = Callable[[np.ndarray], int]


@dataclass
class EpisodeResult:
    """One evaluation episode."""

    seed: int
    episode_return: float
    length: int
    first_actions: list[int]
    frames: np.ndarray | None = field(default=None, repr=False)


@dataclass
class EvalResult:
    """Returns of one policy over several seeded episodes."""

    mode: str
    episodes: list[EpisodeResult]

    @property
    def returns(self) -> np.ndarray:
        return np.array([e.episode_return for e in self.episodes])

    @property
    def mean(self) -> float:
        return float(self.returns.mean())

    @property
    def std(self) -> float:
        return float(self.returns.std())

    def summary(self) -> dict[str, Any]:
        """JSON-friendly summary (no frames)."""
        return {
            "mode": self.mode, "mean": self.mean, "std": self.std,
            "episodes": [
                {k: v for k, v in asdict(e).items() if k != "frames"} for e in self.episodes
            ],
        }


def run_episode(
    env, policy: Policy, *, seed: int, max_steps: int | None = None, record: bool = False
) -> EpisodeResult:
    """Play one episode of ``env`` (a :func:`lfo.envs.games.make_env` env) from ``seed``.

    With ``record`` the native RGB frames (``info["frame"]``) are kept for a video.
    """
    obs, info = env.reset(seed=seed)
    frames = [info["frame"]] if record else None
    total, steps, first = 0.0, 0, []
    done = False
    while not done:
        action = int(policy(obs))
        if len(first) < 10:
            first.append(action)
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        steps += 1
        if record:
            frames.append(info["frame"])
        done = terminated or truncated or (max_steps is not None and steps >= max_steps)
    return EpisodeResult(seed, total, steps, first, np.stack(frames) if record else None)


def evaluate(
    game: str,
    policy: Policy,
    seeds: Sequence[int],
    *,
    mode: str = "policy",
    env_options: dict[str, Any] | None = None,
    max_steps: int | None = None,
    record_first: bool = False,
    preprocess: Preprocess | None = None,
    observe_state: bool = False,
    progress: str | None = None,
) -> EvalResult:
    """Run ``policy`` for one episode per seed; optionally keep the first one's frames.

    ``preprocess``: the view the policy's encoder needs (default: the game's).
    ``observe_state``: PRIVILEGED: the policy reads the simulator's state vector
    (the ideal-encoder rung, :class:`lfo.envs.privileged.StateObservation`).
    ``progress``: show a bar over the episodes with this description (``None``: silent).
    """
    env = make_env(game, preprocess=preprocess, observe_state=observe_state,
                   **(env_options or {}))
    episodes = []
    bar = tqdm(list(enumerate(seeds)), desc=progress, unit="episode", leave=False,
               disable=progress is None)
    for i, s in bar:
        episodes.append(run_episode(env, policy, seed=s, max_steps=max_steps,
                                    record=record_first and i == 0))
        bar.set_postfix(ret=f"{episodes[-1].episode_return:.1f}")
    env.close()
    return EvalResult(mode, episodes)


def random_policy(n_actions: int, seed: int = 0) -> Policy:
    """Uniformly random actions (the floor of the normalised score)."""
    rng = np.random.default_rng(seed)
    return lambda obs: int(rng.integers(n_actions))


def normalised_score(agent: float, random: float, expert: float) -> float:
    """``(agent - random) / (expert - random)``: 0 is random play, 1 is the expert."""
    if not np.isfinite(expert) or abs(expert - random) < 1e-8:
        return float("nan")
    return (agent - random) / (expert - random)
