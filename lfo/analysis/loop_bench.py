"""How fast the training loop runs: agent steps per second against the raw env's own rate.

One measurement builds a real :class:`lfo.loop.trainer.Trainer` (clips, encoder, learner,
replay) and times its loop after the warm-up, with the periodic evaluation and
checkpoints switched off (they are timed apart: :func:`time_evaluation`). Every variant of
a game is measured in the same process, beside the raw env stepped with random actions,
so the figures are ratios on one machine at one time.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.tensorboard import SummaryWriter

from lfo.envs.evaluate import evaluate
from lfo.envs.games import make_raw_env
from lfo.loop.config import TrainConfig
from lfo.loop.logs import CsvLog
from lfo.loop.trainer import Trainer


@dataclass(frozen=True)
class LoopVariant:
    """One loop setting to time (``None``: the game's default)."""

    name: str
    num_envs: int | None = None
    vectorization: str | None = None
    train_frequency: int | None = None
    gradient_steps: int = 1

    def overrides(self) -> dict[str, Any]:
        return {"num_envs": self.num_envs, "vectorization": self.vectorization,
                "train_frequency": self.train_frequency,
                "gradient_steps": self.gradient_steps}


#: the loop as it ran before vector envs and the update ratio: 1 env, 1 update per step
SINGLE_ENV_EVERY_STEP = LoopVariant("1 env, 1 update/step", 1, "sync", 1, 1)
#: the game's defaults (lfo.envs.games)
GAME_DEFAULT = LoopVariant("default")


@dataclass
class LoopTiming:
    """Agent steps per second of one loop variant, after the warm-up."""

    variant: str
    num_envs: int
    vectorization: str
    train_frequency: int
    gradient_steps: int
    steps: int
    updates: int
    seconds: float

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds


class _TimedTrainer(Trainer):
    """A trainer whose loop is timed from the first learner update on; no evaluation or
    checkpoint inside the loop."""

    started: float | None = None
    steps_at_start = 0
    updates_at_start = 0

    def update(self) -> dict[str, float]:
        if self.started is None:
            self.started, self.steps_at_start = time.perf_counter(), self.step
            self.updates_at_start = self.updates
        return super().update()

    def _evaluate_and_save(self, before: int, writer) -> None:
        return None


def raw_env_rate(game: str, steps: int, seed: int = 0) -> float:
    """Steps per second of the game's raw env (native frames, no preprocessing) under
    uniformly random actions, in this process."""
    env = make_raw_env(game, seed=seed)
    rng = np.random.default_rng(seed)
    n = int(env.action_space.n)
    env.reset(seed=seed)
    t0 = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(n)))
        if terminated or truncated:
            env.reset()
    rate = steps / (time.perf_counter() - t0)
    env.close()
    return rate


def time_loop(cfg: TrainConfig, variant: LoopVariant, measure_steps: int) -> LoopTiming:
    """Run the loop of ``cfg`` with ``variant``'s settings for ``measure_steps`` agent steps
    after ``cfg.learning_starts`` random ones, and time the part after the warm-up."""
    cfg = dataclasses.replace(cfg, **variant.overrides(),
                              steps=cfg.learning_starts + measure_steps)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = dataclasses.replace(cfg, out=str(Path(tmp) / "run"))
        trainer = _TimedTrainer(cfg)
        trainer.out.mkdir(parents=True)
        trainer.random_return = 0.0
        writer = SummaryWriter(str(trainer.out / "tb"))
        metrics = CsvLog(trainer.out / "metrics.csv", append=False)
        try:
            trainer._loop(writer, metrics)
            seconds = time.perf_counter() - (trainer.started or time.perf_counter())
        finally:
            writer.close()
            metrics.close()
    return LoopTiming(
        variant=variant.name, num_envs=trainer.num_envs, vectorization=trainer.vectorization,
        train_frequency=trainer.train_frequency, gradient_steps=cfg.gradient_steps,
        steps=trainer.step - trainer.steps_at_start,
        updates=trainer.updates - trainer.updates_at_start, seconds=seconds)


def time_evaluation(cfg: TrainConfig, episodes: int, num_envs: int | None) -> float:
    """Seconds for one evaluation of ``episodes`` greedy + sampled episodes of an untrained
    learner, ``num_envs`` at a time (``None``: all at once)."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(dataclasses.replace(cfg, out=str(Path(tmp) / "run")))
        seeds = list(range(episodes))
        t0 = time.perf_counter()
        kw = dict(env_options=trainer.env_options, max_steps=cfg.max_episode_steps,
                  preprocess=trainer.view, observe_state=trainer.privileged,
                  num_envs=num_envs)
        for greedy in (True, False):
            evaluate(trainer.game, trainer.policy(greedy), seeds, **kw)
        return time.perf_counter() - t0
