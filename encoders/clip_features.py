"""Encoder features per clip, cached on disk.

A clip is decoded at the game's control rate and native size, preprocessed with the
game's :class:`~lfo.data.preprocess.Preprocess`, stacked, and encoded chunk by chunk (memory
stays bounded for any clip length). The features are cached in ``cache_dir`` under a
key made of the clip's *content* hash, the encoder id and the preprocessing/decoding
settings: a second run reuses them, any change of those makes a new key, and a cache
file that cannot be read or does not match its key is rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from encoders.registry import preprocess_from_dict
from lfo.data.files import atomic_write, file_digest
from lfo.data.preprocess import Preprocess
from lfo.data.video import ClipInfo, iter_frame_chunks
from lfo.envs.games import get_game

#: bump when the way features are computed changes (invalidates every cache file)
CACHE_VERSION = 1
DEFAULT_CACHE = Path(".cache/features")


def iter_stacked_chunks(
    clip: ClipInfo,
    game: str,
    *,
    preprocess: Preprocess | None = None,
    chunk_frames: int = 256,
    control_hz: float | None = None,
) -> Iterator[np.ndarray]:
    """Stacked preprocessed views of a clip, chunk by chunk: uint8 ``(t, k*c, h, w)``.

    Frames are decoded at the control rate (the game's default, or ``control_hz``, e.g.
    with an action repeat) and native size, preprocessed, and
    stacked exactly as :meth:`Preprocess.clip` would on the whole clip: the last
    ``stack - 1`` frames of a chunk are carried into the next one, and the first frame
    of the clip is repeated before its start (as the env wrapper does at reset).
    """
    spec = get_game(game)
    pre = preprocess or spec.preprocess
    carry = np.zeros((0, pre.channels, *pre.size), dtype=np.uint8)
    chunks = iter_frame_chunks(
        clip, fps=control_hz or spec.control_hz(), size=spec.native_size,
        chunk_frames=chunk_frames,
    )
    for rgb in chunks:
        frames = pre.frames(rgb)
        if len(frames) == 0:
            continue
        if len(carry) == 0:  # start of the clip: pad with copies of the first frame
            carry = np.repeat(frames[:1], pre.stack - 1, axis=0)
        window = np.concatenate([carry, frames])
        stacked = pre.stack_frames(window)[len(carry) :]
        carry = window[len(window) - (pre.stack - 1) :] if pre.stack > 1 else carry[:0]
        yield stacked


def cache_key(
    clip_digest: str, encoder_id: str, game: str, preprocess: Preprocess,
    control_hz: float | None = None,
) -> str:
    """Key of one clip's features: content + encoder + preprocessing + decoding settings."""
    spec = get_game(game)
    parts = {
        "version": CACHE_VERSION,
        "clip": clip_digest,
        "encoder": encoder_id,
        "game": spec.name,
        "preprocess": preprocess.record(),
        "fps": control_hz or spec.control_hz(),
        "size": list(spec.native_size),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def _check_compatible(encoder, pre: Preprocess) -> None:
    spec = encoder.spec
    if tuple(spec.input_shape) != tuple(pre.stacked_shape):
        raise ValueError(
            f"encoder {spec.name} expects inputs {tuple(spec.input_shape)} but the "
            f"preprocessing makes {pre.stacked_shape}"
        )
    if spec.preprocess is not None:
        mine = json.loads(json.dumps(asdict(pre)))
        # fields the encoder's record lacks (added to Preprocess later) take their defaults
        defaults = json.loads(json.dumps(asdict(Preprocess())))
        theirs = {**{k: defaults.get(k) for k in mine}, **spec.preprocess}
        if mine != theirs:
            raise ValueError(
                f"encoder {spec.name} was trained on preprocessing {spec.preprocess}, "
                f"not {mine}: its features would be meaningless"
            )


def compute_clip_features(
    clip: ClipInfo, encoder, game: str, *, preprocess: Preprocess | None = None,
    control_hz: float | None = None,
) -> np.ndarray:
    """Encode a clip without any cache: float32 ``(T, D)``."""
    pre = preprocess or get_game(game).preprocess
    _check_compatible(encoder, pre)
    chunks = iter_stacked_chunks(clip, game, preprocess=pre, control_hz=control_hz)
    parts = [encoder.encode(stacks) for stacks in chunks]
    if not parts:
        return np.zeros((0, encoder.spec.feature_dim), dtype=np.float32)
    return np.concatenate(parts)


def _read_cache(path: Path, key: str, dim: int) -> np.ndarray | None:
    """Cached features if the file is readable, carries ``key`` and is well-formed."""
    try:
        with np.load(path, allow_pickle=False) as data:
            feats = np.asarray(data["features"])
            ok = (
                str(data["key"]) == key
                and feats.dtype == np.float32
                and feats.ndim == 2
                and feats.shape[1] == dim
                and str(data["checksum"]) == hashlib.sha256(feats.tobytes()).hexdigest()
            )
    except Exception:  # truncated, not an npz, missing fields...
        return None
    return feats if ok else None


def clip_features(
    clip: ClipInfo,
    encoder,
    game: str,
    cache_dir: Path | None = DEFAULT_CACHE,
    *,
    preprocess: Preprocess | None = None,
    control_hz: float | None = None,
) -> np.ndarray:
    """Features of every control-rate frame of a clip: float32 ``(T, D)``, cached.

    Args:
        clip: a probed clip (:func:`lfo.data.video.scan_folder`).
        encoder: an :class:`encoders.Encoder`.
        game: the game the clip shows (sets the decode rate, size and Preprocess).
        cache_dir: where to cache; ``None`` disables the cache.
        preprocess: override the game's Preprocess (must match the encoder's).
        control_hz: decode at this rate instead of the game's default control rate.
    """
    pre = preprocess or get_game(game).preprocess
    if cache_dir is None:
        return compute_clip_features(clip, encoder, game, preprocess=pre, control_hz=control_hz)
    path, key = cache_file(clip, encoder, game, cache_dir, preprocess=pre, control_hz=control_hz)
    if path.exists():
        feats = _read_cache(path, key, encoder.spec.feature_dim)
        if feats is not None:
            return feats
        warnings.warn(f"feature cache {path} is corrupt; rebuilding it", stacklevel=2)
    feats = compute_clip_features(clip, encoder, game, preprocess=pre, control_hz=control_hz)
    checksum = hashlib.sha256(feats.tobytes()).hexdigest()
    # a file handle: np.savez would append ".npz" to a name
    atomic_write(path, lambda f: np.savez(f, features=feats, key=key, checksum=checksum))
    return feats


def cache_file(
    clip: ClipInfo, encoder, game: str, cache_dir: Path = DEFAULT_CACHE, *,
    preprocess: Preprocess | None = None, control_hz: float | None = None,
) -> tuple[Path, str]:
    """Where :func:`clip_features` keeps a clip's features, and the key the file must carry."""
    pre = preprocess or get_game(game).preprocess
    key = cache_key(file_digest(clip.path), encoder.spec.id, game, pre, control_hz)
    return Path(cache_dir) / f"{Path(clip.path).stem}-{key}.npz", key


def cached_features(
    clip: ClipInfo, encoder, game: str, cache_dir: Path = DEFAULT_CACHE, *,
    preprocess: Preprocess | None = None, control_hz: float | None = None,
) -> np.ndarray | None:
    """The clip's features if the cache holds a sound copy, else ``None`` (never decodes)."""
    path, key = cache_file(clip, encoder, game, cache_dir, preprocess=preprocess,
                           control_hz=control_hz)
    return _read_cache(path, key, encoder.spec.feature_dim) if path.exists() else None


def encoder_view(encoder, game: str) -> Preprocess:
    """The Preprocess an encoder was trained on (its checkpoint's record), else the game's.

    Clips and the agent's live frames must both go through this view.
    """
    return preprocess_from_dict(encoder.spec.preprocess, game)
