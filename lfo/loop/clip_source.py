"""What a run reads from a clip folder before it plays: the game, the encoder and its
view, the decoding rate, and each clip's features (cached on disk).

The trainer and ``lfo-encode-videos`` both go through :func:`open_clips` and
:func:`clip_source_features`, so a folder encoded ahead of time (on many cores or a Ray
cluster) lands under exactly the cache keys a later run looks up. Reads sidecar metadata
only (never the recorded actions).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import encoders
from encoders.clip_features import DEFAULT_CACHE, clip_features, encoder_view
from encoders.privileged import is_privileged
from encoders.registry import check_encoder_fits, default_encoder
from lfo.data.preprocess import Preprocess
from lfo.data.video import ClipFolder, ClipInfo, scan_folder
from lfo.demonstrations.clips import clip_metadata, infer_game, warn_on_mismatch
from lfo.demonstrations.privileged_clips import clip_states  # privileged rung only
from lfo.envs.games import GameSpec, get_game


@dataclass
class ClipSource:
    """A scanned clip folder and how its clips become the learner's states."""

    folder: ClipFolder
    metadata: list[dict]
    """Each clip's sidecar metadata (actions dropped)."""
    game: str
    spec: GameSpec
    encoder: Any
    """The loaded :class:`encoders.Encoder`."""
    view: Preprocess
    """The preprocessing the encoder was trained on (clips and live frames alike)."""
    control_hz: float
    """The rate the clips are decoded at: the agent's control rate."""
    privileged: bool
    """The ideal encoder (``state-<game>``): the clips' states come from the simulator."""


def open_clips(
    videos: str | Path, *, env: str | None = None, encoder: str | None = None,
    env_options: dict[str, Any] | None = None, action_repeat: int = 1, progress: bool = False,
) -> ClipSource:
    """Scan ``videos``, settle the game (:func:`infer_game`) and load the encoder.

    Args:
        videos: the clip folder.
        env: the game asked for (``--env``), else the clips' own.
        encoder: encoder registry name or checkpoint path; default: the game's.
        env_options: the agent's env options (they may change the control rate).
        action_repeat: the agent's action repeat (clips at the lower rate are expected).
        progress: progress bar while the pictures are checked.
    """
    folder = scan_folder(videos)
    metadata = clip_metadata(folder)
    game = infer_game(folder, env, metadata, progress=progress)
    spec = get_game(game)
    warn_on_mismatch(folder, game, action_repeat)
    model = encoders.load(encoder or default_encoder(game))
    check_encoder_fits(model, game)
    return ClipSource(folder=folder, metadata=metadata, game=game, spec=spec, encoder=model,
                      view=encoder_view(model, game),
                      control_hz=spec.control_hz(env_options or {}),
                      privileged=is_privileged(model))


def first_clips(source: ClipSource, max_clips: int | None) -> ClipSource:
    """The same source reduced to its first ``max_clips`` clips (path order), or unchanged
    when ``max_clips`` is None. Refuses a count below 1 or above the folder's clips."""
    if max_clips is None:
        return source
    n = len(source.folder.clips)
    if max_clips < 1:
        raise ValueError(f"--max-clips must be at least 1, got {max_clips}")
    if max_clips > n:
        raise ValueError(f"--max-clips {max_clips} asks for more clips than "
                         f"{source.folder.root} holds ({n})")
    folder = dataclasses.replace(source.folder, clips=source.folder.clips[:max_clips])
    return dataclasses.replace(source, folder=folder, metadata=source.metadata[:max_clips])


def encode_clip(source: ClipSource, clip: ClipInfo,
                cache_dir: Path | None = DEFAULT_CACHE) -> np.ndarray:
    """One clip's features ``(T, D)`` (from the cache when it holds them)."""
    if source.privileged:  # PRIVILEGED REFERENCE (ideal encoder): the simulator's state
        return clip_states(clip.path, source.game, control_hz=source.control_hz)[0]
    return clip_features(clip, source.encoder, source.game, cache_dir, preprocess=source.view,
                         control_hz=source.control_hz)


def clip_source_features(source: ClipSource, *, progress: bool = False,
                         cache_dir: Path | None = DEFAULT_CACHE) -> list[np.ndarray]:
    """Every clip's features, in folder order, one process."""
    desc = "replaying expert states" if source.privileged else "encoding clips"
    return [encode_clip(source, c, cache_dir)
            for c in tqdm(source.folder.clips, desc=desc, disable=not progress)]
