"""A trained policy: encoder, feature normaliser and learner, loaded from a run folder
without building a trainer (no clips are decoded, no env is built for training).

:func:`load_run` is what evaluation, the shift report and the label audit use.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import encoders
from encoders.clip_features import encoder_view
from encoders.privileged import is_privileged
from encoders.registry import EncoderError, default_encoder, resolve_recorded
from lfo.algorithms.methods import Learner, build_learner
from lfo.data.safe_load import UnsafeCheckpoint
from lfo.envs.evaluate import EvalResult, evaluate
from lfo.envs.games import make_env
from lfo.loop.checkpoint import read_state
from lfo.loop.config import TrainConfig, config_from_dict


class FeatureNormalizer:
    """Standardise features with the expert clips' mean and std (fixed for the run), then
    clip them to [-clip, clip] when ``clip`` > 0 (a rare value, such as Breakout's "no
    ball in play" in clips where the ball is almost always in play, would otherwise reach
    tens of standard deviations)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray, clip: float = 0.0) -> None:
        if clip < 0:
            raise ValueError(f"the feature clip must be >= 0 (0: none), got {clip}")
        self.mean = mean.astype(np.float32)
        self.std = np.maximum(std, 1e-6).astype(np.float32)
        self.clip = float(clip)

    @classmethod
    def fit(cls, features: np.ndarray, clip: float = 0.0) -> FeatureNormalizer:
        return cls(features.mean(axis=0), features.std(axis=0), clip)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        z = (features - self.mean) / self.std
        return np.clip(z, -self.clip, self.clip) if self.clip > 0 else z

    def state(self) -> tuple[np.ndarray, np.ndarray, float]:
        """What a checkpoint keeps: ``FeatureNormalizer(*state)`` rebuilds it (a checkpoint
        from before the clip holds (mean, std) only: no clip)."""
        return self.mean, self.std, self.clip


class EncodedPolicy:
    """Act on stacked frames: encode, normalise, then ask the agent (anything with ``act``)."""

    def __init__(self, encoder, normalizer: FeatureNormalizer, agent, greedy: bool):
        self.encoder, self.normalizer, self.agent, self.greedy = encoder, normalizer, agent, greedy

    def features(self, obs: np.ndarray) -> np.ndarray:
        """Normalised features of one observation."""
        return self.features_batch(obs[None])[0]

    def features_batch(self, obs: np.ndarray) -> np.ndarray:
        """Normalised features of a batch of observations (one encoder call)."""
        return self.normalizer(self.encoder.encode(obs))

    def __call__(self, obs: np.ndarray) -> int:
        return int(self.agent.act(self.features(obs), greedy=self.greedy))

    def act_batch(self, obs: np.ndarray) -> np.ndarray:
        """Actions for a batch of observations (as :func:`lfo.envs.evaluate.evaluate` asks)."""
        return np.asarray(self.agent.act(self.features_batch(obs), greedy=self.greedy))


@dataclass
class RunPolicy:
    """A trained run, ready to act: its saved config and a policy factory."""

    folder: Path
    config: dict[str, Any]
    """The run's ``config.json`` as saved (with the trainer's additions: ``game``...)."""
    encoder: Any
    normalizer: FeatureNormalizer
    load_learner: Callable[[], Learner]
    """A fresh copy of the checkpointed learner (its sampling generator as saved)."""
    final: dict[str, Any] = field(default_factory=dict)

    @property
    def game(self) -> str:
        return str(self.config["game"])

    @property
    def train_config(self) -> TrainConfig:
        return config_from_dict(self.config)

    @property
    def privileged(self) -> bool:
        """Whether the run reads the simulator's state (the ideal-encoder rung)."""
        return is_privileged(self.encoder)

    def policy(self, greedy: bool) -> EncodedPolicy:
        """The run's policy on raw observations. Every call reloads the learner, so each
        evaluation's sampled actions start from the same generator state: rows compare."""
        return EncodedPolicy(self.encoder, self.normalizer, self.load_learner(), greedy)

    def evaluate(self, seeds: list[int], modes: tuple[str, ...] = ("greedy", "sampled"), *,
                 env_options: dict[str, Any] | None = None,
                 max_steps: int | None = None) -> dict[str, EvalResult]:
        """One episode per seed and mode ("greedy" or "sampled") through the run's own
        encoder view; ``env_options`` default to the run's own world (its agent options)."""
        options = self.train_config.agent_env_options() if env_options is None else env_options
        return {mode: evaluate(self.game, self.policy(mode == "greedy"), seeds, mode=mode,
                               env_options=options, max_steps=max_steps,
                               preprocess=encoder_view(self.encoder, self.game),
                               observe_state=self.privileged)
                for mode in modes}


def _learner_loader(config: dict[str, Any], state: dict[str, Any], ckpt: Path,
                    obs_dim: int) -> Callable[[], Learner]:
    """Rebuild the run's learner from its saved settings, then load the checkpoint."""
    cfg = config_from_dict(config)
    method = state.get("method") or config.get("resolved_method") or cfg.resolved_method
    n_actions = int(make_env(config["game"], **cfg.agent_env_options()).action_space.n)
    settings = cfg.learner.for_problem(obs_dim, n_actions, cfg.seed)

    def load() -> Learner:
        learner = build_learner(method, settings, options=cfg.method_options)
        learner.load(ckpt)
        return learner

    load()  # fail now, with the run's name, rather than mid-evaluation
    return load


def load_run(folder: str | Path, learner_checkpoint: str | Path | None = None) -> RunPolicy:
    """Rebuild a trained agent from a run folder; a missing or foreign folder is a clear error.

    ``learner_checkpoint``: another saved learner of the run to act with (a folder such as
    ``checkpoints/step_0030000`` or ``checkpoint_best``, relative to the run or absolute);
    the features' normalisation still comes from the run's ``checkpoint/``.

    Opening a folder runs none of its content: every checkpoint file is read as plain data,
    and one that needs more is refused (:class:`~lfo.data.safe_load.UnsafeCheckpoint`)."""
    folder = Path(folder)
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"{folder} is not a run folder: config.json is missing or "
                                f"unreadable ({exc})") from exc
    ckpt = folder / "checkpoint"
    if not (ckpt / "state.pt").is_file():
        raise FileNotFoundError(f"{folder}: no checkpoint/state.pt (train it first)")
    state = read_state(ckpt)
    normalizer = FeatureNormalizer(*state["normalizer"])
    if learner_checkpoint is not None:
        ckpt = folder / learner_checkpoint  # an absolute path stays itself
        if not (ckpt / "state.pt").is_file():
            raise FileNotFoundError(f"{ckpt}: not a saved learner (no state.pt)")
    try:
        load_learner = _learner_loader(config, state, ckpt, int(normalizer.mean.shape[0]))
    except UnsafeCheckpoint:
        raise
    except Exception as exc:
        raise RuntimeError(f"{folder}: cannot load the checkpointed learner "
                           f"({type(exc).__name__}: {exc})") from exc
    name = config.get("encoder")
    if name is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the trainer warned about this choice already
            name = default_encoder(config["game"])
    try:  # the weights the run was trained with, under the name that ships them today
        encoder = encoders.load(resolve_recorded(name, config.get("encoder_id")))
    except EncoderError as exc:
        raise RuntimeError(f"{folder}: {exc}") from exc
    final_path = folder / "final.json"
    final = json.loads(final_path.read_text()) if final_path.is_file() else {}
    return RunPolicy(folder, config, encoder, normalizer, load_learner, final)
