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

#: evaluation episodes played side by side by default (each holds an env in memory)
MAX_PARALLEL_EPISODES = 16


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


def act_batch(policy: Policy, obs: np.ndarray) -> np.ndarray:
    """Actions for a batch of observations: the policy's own ``act_batch`` when it has one
    (one encoder call for the batch), else one call per observation."""
    batched = getattr(policy, "act_batch", None)
    if batched is not None:
        return np.asarray(batched(obs), dtype=np.int64)
    return np.array([int(policy(o)) for o in obs], dtype=np.int64)


@dataclass
class _Slot:
    """One env of a parallel evaluation and the episode it is playing."""

    env: Any
    index: int = -1
    seed: int = 0
    obs: Any = None
    total: float = 0.0
    steps: int = 0
    first: list[int] = field(default_factory=list)
    frames: list[np.ndarray] | None = None


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
    num_envs: int | None = None,
) -> EvalResult:
    """Run ``policy`` for one episode per seed, ``num_envs`` episodes at a time (default:
    all of them, up to :data:`MAX_PARALLEL_EPISODES`), acting on the batch of their
    observations at each step; optionally keep the first episode's frames.

    A policy with an ``act_batch(obs_batch) -> actions`` method is called once per step
    for all running episodes (one encoder call); a plain callable once per observation.
    Greedy results do not depend on ``num_envs``; a sampling policy draws its actions in
    another order when episodes run side by side.
    ``preprocess``: the view the policy's encoder needs (default: the game's).
    ``observe_state``: PRIVILEGED: the policy reads the simulator's state vector
    (the ideal-encoder rung, :class:`lfo.envs.privileged.StateObservation`).
    ``progress``: show a bar over the episodes with this description (``None``: silent).
    ``max_steps``: an extra cap on top of the game's own (``GameSpec.max_episode_steps``).
    """
    seeds = list(seeds)
    width = max(1, min(len(seeds), num_envs or MAX_PARALLEL_EPISODES))
    slots = [_Slot(make_env(game, preprocess=preprocess, observe_state=observe_state,
                            **(env_options or {}))) for _ in range(width)]
    results: list[EpisodeResult | None] = [None] * len(seeds)
    queue = list(enumerate(seeds))
    bar = tqdm(total=len(seeds), desc=progress, unit="episode", leave=False,
               disable=progress is None)

    def start(slot: _Slot) -> bool:
        if not queue:
            slot.index = -1
            return False
        slot.index, slot.seed = queue.pop(0)
        slot.obs, info = slot.env.reset(seed=slot.seed)
        slot.total, slot.steps, slot.first = 0.0, 0, []
        slot.frames = [info["frame"]] if record_first and slot.index == 0 else None
        return True

    active = [slot for slot in slots if start(slot)]
    while active:
        actions = act_batch(policy, np.stack([slot.obs for slot in active]))
        still = []
        for slot, action in zip(active, actions, strict=True):
            if len(slot.first) < 10:
                slot.first.append(int(action))
            slot.obs, reward, terminated, truncated, info = slot.env.step(int(action))
            slot.total += float(reward)
            slot.steps += 1
            if slot.frames is not None:
                slot.frames.append(info["frame"])
            if not (terminated or truncated or (max_steps is not None
                                                and slot.steps >= max_steps)):
                still.append(slot)
                continue
            results[slot.index] = EpisodeResult(
                slot.seed, slot.total, slot.steps, slot.first,
                np.stack(slot.frames) if slot.frames is not None else None)
            bar.update(1)
            bar.set_postfix(ret=f"{slot.total:.1f}")
            if start(slot):
                still.append(slot)
        active = still
    bar.close()
    for slot in slots:
        slot.env.close()
    return EvalResult(mode, [r for r in results if r is not None])


def random_policy(n_actions: int, seed: int = 0) -> Policy:
    """Uniformly random actions (the floor of the normalised score)."""
    rng = np.random.default_rng(seed)
    return lambda obs: int(rng.integers(n_actions))


def normalised_score(agent: float, random: float, expert: float) -> float:
    """``(agent - random) / (expert - random)``: 0 is random play, 1 is the expert."""
    if not np.isfinite(expert) or abs(expert - random) < 1e-8:
        return float("nan")
    return (agent - random) / (expert - random)
