"""Roll a scripted expert out and record each episode as a video plus a JSON sidecar.

The video holds only the env's RGB observations (no action channel). The sidecar
records how the clip was made; its ``expert_actions`` field exists for evaluation and
the explicitly labelled oracle baselines only and is read through :mod:`lfo.demonstrations.labels`,
never by the learning-from-video path.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from lfo.data.files import atomic_write_text
from lfo.data.sidecar import ACTIONS_KEY
from lfo.data.video import write_clip
from lfo.demonstrations.experts import make_expert
from lfo.envs.games import OptionValue, get_game, make_raw_env

__all__ = ["ACTIONS_KEY", "Episode", "MeasureConfig", "RecordConfig", "random_episode",
           "record_episode", "record_videos"]


@dataclass(frozen=True)
class RecordConfig:
    """What to record: clips clip_000.mp4 + clip_000.json, ... and recording.json in out."""

    env: Literal["carracing", "pong", "breakout"]
    """The game."""
    out: Path
    """Output folder (created)."""
    episodes: int = 20
    """Number of clips (one episode each)."""
    seed: int = 10_000
    """Env seed of the first clip (clip i uses seed + i); 10000+ is the demonstration
    range, 0-9999 is kept for evaluation."""
    skill: float = 1.0
    """Expert skill in [0, 1] (1 = full expert; lower adds random lapses)."""
    fps: float | None = None
    """Frame rate written into the video (default: the env's control rate). Frames are
    always one per env step: a different fps makes a deliberately mis-timed clip (a
    distribution-shift setting)."""
    crf: int = 20
    """H.264 quality (lower is better and larger)."""
    max_episode_steps: int | None = None
    """Cap on episode length (None: the env's own limit)."""
    env_options: dict[str, OptionValue] = field(default_factory=dict)
    """Shift settings passed to lfo.envs.games.make_raw_env, as name value pairs."""
    progress: bool = True
    """Show a progress bar."""


@dataclass
class Episode:
    """One recorded episode (frames are native RGB observations, one per step)."""

    frames: np.ndarray
    actions: list[int]
    episode_return: float
    terminated: bool
    truncated: bool

    @property
    def length(self) -> int:
        """Env steps taken (the clip has ``length + 1`` frames, reset included)."""
        return len(self.actions)


def record_episode(
    game: str,
    *,
    seed: int,
    skill: float = 1.0,
    max_steps: int | None = None,
    env_options: dict[str, Any] | None = None,
) -> Episode:
    """Play one seeded episode with the scripted expert and keep every observation."""
    env = make_raw_env(game, **(env_options or {}))
    expert = make_expert(game, skill=skill, seed=seed)
    obs, _ = env.reset(seed=seed)
    expert.reset(env, seed=seed)
    frames, actions, total = [obs], [], 0.0
    terminated = truncated = False
    while not (terminated or truncated):
        action = expert.act(env, obs)
        obs, reward, terminated, truncated, _ = env.step(action)
        frames.append(obs)
        actions.append(action)
        total += float(reward)
        if max_steps is not None and len(actions) >= max_steps:
            truncated = True
    env.close()
    return Episode(np.stack(frames), actions, total, bool(terminated), bool(truncated))


def sidecar(cfg: RecordConfig, seed: int, episode: Episode, fps: float) -> dict[str, Any]:
    """The JSON sidecar of one clip."""
    spec = get_game(cfg.env)
    return {
        "game": spec.name,
        "env_id": spec.env_id,
        "env_kwargs": {**spec.kwargs, **cfg.env_options},
        "seed": seed,
        "skill": cfg.skill,
        "expert": make_expert(cfg.env).describe(),
        "return": episode.episode_return,
        "length": episode.length,
        "frames": int(len(episode.frames)),
        "terminated": episode.terminated,
        "truncated": episode.truncated,
        "fps": fps,
        "control_hz": spec.control_hz(cfg.env_options),
        ACTIONS_KEY: [int(a) for a in episode.actions],
    }


def record_videos(cfg: RecordConfig, *, progress: bool | None = None) -> list[dict[str, Any]]:
    """Record ``cfg.episodes`` clips into ``cfg.out``; return their sidecars (``progress``,
    when given, overrides ``cfg.progress``)."""
    progress = cfg.progress if progress is None else progress
    spec = get_game(cfg.env)
    fps = cfg.fps or spec.control_hz(cfg.env_options)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    bar = tqdm(range(cfg.episodes), desc=f"recording {spec.name}", disable=not progress)
    for i in bar:
        seed = cfg.seed + i
        episode = record_episode(
            cfg.env, seed=seed, skill=cfg.skill, max_steps=cfg.max_episode_steps,
            env_options=cfg.env_options,
        )
        stem = out / f"clip_{i:03d}"
        write_clip(stem.with_suffix(".mp4"), episode.frames, fps, crf=cfg.crf)
        record = sidecar(cfg, seed, episode, fps)
        _write_json_atomic(stem.with_suffix(".json"), record)
        records.append(record)
        bar.set_postfix(ret=f"{episode.episode_return:.1f}", len=episode.length)
    summary = {
        "config": {**{k: v for k, v in asdict(cfg).items() if k != "progress"},
                   "out": str(cfg.out)},
        "returns": [r["return"] for r in records],
        "mean_return": float(np.mean([r["return"] for r in records])),
        "std_return": float(np.std([r["return"] for r in records])),
    }
    _write_json_atomic(out / "recording.json", summary)
    return records


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    # compact: a sidecar holds one action per step, and videos/ must stay small
    atomic_write_text(path, json.dumps(data, separators=(",", ":")) + "\n")


@dataclass
class MeasureConfig:
    """Which policy to measure, on which seeded episodes (scripts/measure_expert.py)."""

    env: Literal["carracing", "pong", "breakout"]
    """The game."""
    seeds: tuple[int, ...] = tuple(range(10_000, 10_010))
    """Env seed values, one episode each (default 10000 ... 10009, the demonstration range)."""
    skill: float = 1.0
    """Expert skill in [0, 1]."""
    random: bool = False
    """Measure a uniformly random policy instead of the expert."""
    max_episode_steps: int | None = None
    """Cap on episode length (None: the env's own limit)."""
    json: Path | None = None
    """Also write the results JSON here."""


def random_episode(game: str, seed: int, max_steps: int | None) -> tuple[float, int, bool]:
    """Return, length and ``terminated`` of one uniformly random episode (actions drawn by
    ``numpy.random.default_rng(seed).integers(n_actions)``)."""
    env = make_raw_env(game)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    total, steps, terminated, truncated = 0.0, 0, False, False
    while not (terminated or truncated):
        _, reward, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        total += float(reward)
        steps += 1
        truncated = truncated or (max_steps is not None and steps >= max_steps)
    env.close()
    return total, steps, bool(terminated)
