"""What a clip folder says about itself: its game (from the sidecars, checked against the
pictures), the expert's recorded return, and clips that must be resampled or resized to
the agent's view.

Reads sidecar metadata only (:func:`lfo.data.sidecar.read_metadata` drops the recorded
actions), so it is safe on the learning-from-video path.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np

from lfo.data.sidecar import read_metadata, sidecar_path
from lfo.data.video import ClipFolder
from lfo.demonstrations.game_detector import UNKNOWN_DISTANCE, GameGuess, detect_folder
from lfo.envs.games import GAMES, get_game


def infer_game(
    folder: ClipFolder,
    requested: str | None,
    metadata: list[dict] | None = None,
    guesses: list[GameGuess] | None = None,
    *,
    progress: bool = False,
) -> str:
    """The game to play, checked against what the clips' pictures show.

    The game is ``requested`` (``--env``) if given, else the one the sidecars name, else the
    one the pictures show (:mod:`lfo.demonstrations.game_detector`). Refused, each in one
    line naming both sides, before any clip is encoded: clips whose pictures show two
    supported games; ``--env`` or a clip's sidecar naming another game than its pictures
    show; ``--env`` against the sidecars, or sidecars against each other; and a clip that
    shows none of the supported games when neither ``--env`` nor its sidecar names one.
    Clips that look like no supported game but are named by ``--env`` or their sidecar are
    used with a warning.

    Args:
        folder: the scanned clip folder.
        requested: the game asked for (``--env``), or ``None``.
        metadata: each clip's sidecar metadata (read here when ``None``).
        guesses: what each clip's pictures show (detected here when ``None``).
        progress: show a progress bar while the pictures are checked.
    """
    metadata = clip_metadata(folder) if metadata is None else metadata
    guesses = detect_folder(folder, progress=progress) if guesses is None else guesses
    named = [_named_game(m) for m in metadata]  # what each sidecar says, if anything
    _refuse_mixed_pictures(folder, guesses)
    if requested is not None:
        game = get_game(requested).name
        wrong = [g for g in guesses if g.game not in (None, game)]
        if wrong:
            raise ValueError(f"{_rel(wrong[0].path, folder)} shows {wrong[0].game}"
                             f"{_how_many(wrong, folder)}, but --env says {game}: pass "
                             f"--env {wrong[0].game}, or a folder of {game} clips")
    for clip, guess, name in zip(folder, guesses, named, strict=True):
        if guess.game is not None and name is not None and name != guess.game:
            raise ValueError(f"{_rel(clip.path, folder)} shows {guess.game}, but its sidecar "
                             f"{sidecar_path(clip.path).name} says {name}: fix or delete the "
                             "sidecar")
    games = {n for n in named if n is not None}
    if requested is not None:
        others = sorted(games - {game})
        if others:
            raise ValueError(f"--env {game} but the clips in {folder.root} are from "
                             f"{', '.join(others)} (their sidecars say so): pass the clips' "
                             "game, or clips of this game")
    elif len(games) > 1:
        raise ValueError(f"the sidecars of the clips in {folder.root} name several games "
                         f"{sorted(games)}: fix the sidecars, or pass --env")
    elif games:
        name = games.pop()
        if name not in GAMES:
            raise ValueError(f"the sidecars of the clips in {folder.root} name {name}, which is "
                             f"not a supported game ({', '.join(GAMES)}): pass --env if the clips "
                             "show one of them")
        game = name
    else:
        shown = [g.game for g in guesses if g.game is not None]
        game = shown[0] if shown else None
    unknown = [(g, n) for g, n in zip(guesses, named, strict=True) if g.game is None]
    unnamed = [g for g, n in unknown if n is None]
    if unnamed and requested is None:
        first = unnamed[0]
        distance = first.distances[first.nearest]
        how_far = (f"nearest {first.nearest} at {distance:.2f}, more than {UNKNOWN_DISTANCE}"
                   if math.isfinite(distance) else "its frames are blank")
        raise ValueError(
            f"{_rel(first.path, folder)}{_how_many(unnamed, folder)} shows none of the "
            f"supported games ({', '.join(GAMES)}; {how_far}): if the clips show one of them, "
            f"pass it, e.g. --env {first.nearest}; other games are not supported")
    if unknown:
        why = "--env says so" if requested is not None else "their sidecars say so"
        warnings.warn(f"{len(unknown)} clip(s) in {folder.root} do not look like {game} or "
                      f"any other supported game (e.g. {_rel(unknown[0][0].path, folder)}, "
                      f"nearest {unknown[0][0].describe()}): used as {game} because {why}",
                      stacklevel=2)
    return game


def _named_game(meta: dict) -> str | None:
    """The game a clip's sidecar names (its short name; the raw name if not supported)."""
    name = meta.get("game") or meta.get("env_id")
    if name is None:
        return None
    try:
        return get_game(name).name
    except ValueError:
        return str(name)


def _refuse_mixed_pictures(folder: ClipFolder, guesses: list[GameGuess]) -> None:
    """One line naming two games the pictures show, with a clip of each."""
    example: dict[str, Path] = {}
    for guess in guesses:
        if guess.game is not None:
            example.setdefault(guess.game, guess.path)
    if len(example) > 1:
        (a, pa), (b, pb) = list(example.items())[:2]
        counts = {g: sum(x.game == g for x in guesses) for g in example}
        shows = ", ".join(f"{counts[g]} show {g}" for g in example)
        raise ValueError(f"the clips in {folder.root} show more than one game ({shows}): "
                         f"{_rel(pa, folder)} shows {a}, {_rel(pb, folder)} shows {b}; train "
                         "on one game per folder")


def _rel(path: Path, folder: ClipFolder) -> str:
    """A clip's path as the user named it: the folder they passed, then the clip below it."""
    try:
        return str(Path(folder.root) / Path(path).relative_to(folder.root))
    except ValueError:
        return str(path)


def _how_many(subset: list, folder: ClipFolder) -> str:
    return f" (and {len(subset) - 1} more of the {len(folder)} clips)" if len(subset) > 1 else ""


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


