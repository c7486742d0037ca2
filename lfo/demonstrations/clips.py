"""What a clip folder says about itself: its game, the expert's recorded return, and
clips that must be resampled or resized to the agent's view.

Reads sidecar metadata only (:func:`lfo.data.sidecar.read_metadata` drops the recorded
actions), so it is safe on the learning-from-video path.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np

from lfo.data.sidecar import read_metadata
from lfo.data.video import ClipFolder
from lfo.envs.games import get_game


def infer_game(
    folder: ClipFolder, requested: str | None, metadata: list[dict] | None = None
) -> str:
    """The game to play: ``requested`` if given, else the clips' sidecars must agree."""
    metadata = clip_metadata(folder) if metadata is None else metadata
    games = set()
    for m in metadata:  # a sidecar names its game, or at least its gymnasium env id
        name = m.get("game") or m.get("env_id")
        if name is not None:
            try:
                games.add(get_game(name).name)
            except ValueError:
                games.add(str(name))
    if requested is not None:
        game = get_game(requested).name
        others = sorted(games - {game})
        if others:
            raise ValueError(f"--env {game} but the clips in {folder.root} are from "
                             f"{', '.join(others)} (their sidecars say so): pass the clips' "
                             "game, or clips of this game")
        return game
    if len(games) == 1:
        return get_game(games.pop()).name
    if not games:
        raise ValueError(
            f"cannot tell which game the clips in {folder.root} show (no sidecar names one): "
            "pass --env carracing|pong|breakout"
        )
    raise ValueError(f"clips in {folder.root} come from several games {sorted(games)}: pass --env")


def clip_metadata(folder: ClipFolder) -> list[dict]:
    """Each clip's sidecar metadata (actions already dropped); ``{}`` where none."""
    return [read_metadata(c.path) or {} for c in folder]


def expert_return(folder: ClipFolder, metadata: list[dict] | None = None) -> float:
    """Mean return recorded in the clips' sidecars (``nan`` if none says)."""
    metadata = clip_metadata(folder) if metadata is None else metadata
    values = [m.get("return") for m in metadata]
    values = [float(v) for v in values if v is not None]
    capped = sum(_capped(m) for m in metadata)
    if capped:
        warnings.warn(f"{capped} of {len(metadata)} clips in {folder.root} are capped or partial "
                      "episodes: the expert return (the score's 1.0) is their mean, not that of "
                      "full episodes", stacklevel=2)
    if not values:
        warnings.warn(f"no sidecar in {folder.root} records the expert's return: normalised "
                      "scores are nan (returns are still reported); record clips with "
                      "scripts/record_videos.py, or add a return to each sidecar", stacklevel=2)
        return float("nan")
    return float(np.mean(values))


def _capped(meta: dict) -> bool:
    """Whether a clip's sidecar says it was cut short of a full episode: truncated before
    the env's own time limit (a recorder cap), not ended by the game or that limit."""
    if not meta.get("truncated") or meta.get("terminated"):
        return False
    try:
        limit = gym.spec(meta.get("env_id", "")).max_episode_steps
    except Exception:
        limit = None
    return limit is None or int(meta.get("length", 0)) < limit


def warn_on_mismatch(folder: ClipFolder, game: str, action_repeat: int = 1) -> None:
    """Warn (once per kind) when clips must be resampled or resized to the env's view.

    With an action repeat, clips at the game's native control rate are decoded at the
    lower rate on purpose: only clips at neither rate are reported."""
    spec = get_game(game)
    hz, (h, w) = spec.control_hz(), spec.native_size
    rates = (hz, hz / action_repeat)
    off_rate = [c.path.name for c in folder if all(abs(c.fps - r) > 0.01 * r for r in rates)]
    off_size = [c.path.name for c in folder if (c.height, c.width) != (h, w)]
    if off_rate:
        warnings.warn(f"{len(off_rate)} clip(s) are not at {hz:g} fps (e.g. {off_rate[0]}): "
                      "resampled in time to the env's control rate", stacklevel=2)
    if off_size:
        warnings.warn(f"{len(off_size)} clip(s) are not {w}x{h} (e.g. {off_size[0]}): "
                      "resized to the env's observation size", stacklevel=2)


