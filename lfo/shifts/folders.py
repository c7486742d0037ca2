"""Shifted copies of a folder of clips, built once and cached on disk.

``apply_video_shift("videos/carracing", "fps25")`` decodes every clip, applies the named
video shift (:data:`lfo.shifts.registry.VIDEO_SHIFTS`) chunk by chunk and writes the result, with
each clip's sidecar metadata and the shift's settings, into
``.cache/shifted/<shift>-<key>/``. The key hashes the shift's settings and the source
clips' *content*, so a second call returns the same folder at once and any change builds
a new one. Sidecars are read through :func:`lfo.data.sidecar.read_metadata`, which drops the
expert actions: a shifted folder carries none of them for the copied clips.

Demonstrator shifts (:data:`lfo.shifts.registry.DEMO_SHIFTS`) link the source clips unchanged and
add clips recorded on demand by the scripted expert at a lower skill
(:mod:`lfo.demonstrations.recorder`), on env seeds that no source clip uses.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lfo.data.files import file_digest
from lfo.data.sidecar import read_metadata, sidecar_path
from lfo.data.video import ClipFolder, ClipInfo, iter_frame_chunks, scan_folder, write_clip
from lfo.demonstrations.recorder import RecordConfig, record_videos
from lfo.envs.games import get_game
from lfo.shifts.registry import (
    DEMO_SHIFTS,
    FOLDER_SHIFTS,
    VIDEO_SHIFTS,
    DemoShift,
    VideoShift,
    clip_rng,
)

#: bump when the way shifted folders are made changes (invalidates every cached folder)
SHIFTED_VERSION = 1
DEFAULT_CACHE = Path(".cache/shifted")
#: written last into a finished folder: a folder without it is an interrupted build
MANIFEST = "shift.json"


def shift_key(folder: ClipFolder, name: str, params: dict[str, Any]) -> str:
    """Cache key of a shifted folder: the shift's settings + each source clip's content."""
    clips = [[_relative(c.path, folder.root).as_posix(), file_digest(c.path)] for c in folder]
    parts = {"version": SHIFTED_VERSION, "shift": name, "params": params, "clips": clips}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def apply_video_shift(
    src_dir: str | Path,
    shift: str,
    dst_dir: str | Path | None = None,
    *,
    cache_root: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """A folder holding the clips of ``src_dir`` under the named shift; built if missing.

    Args:
        src_dir: folder of clips (searched recursively, as :func:`lfo.data.video.scan_folder`).
        shift: a name in :data:`lfo.shifts.registry.FOLDER_SHIFTS` (video or demonstrator shift).
        dst_dir: where to write; default ``<cache_root>/<shift>-<key>``. A folder that
            exists without this shift's manifest is never overwritten.
        cache_root: root of the default destinations (default :data:`DEFAULT_CACHE`).
        progress: show tqdm bars.

    Returns:
        The shifted folder (nested like the source; every clip written as ``.mp4``).
    """
    if shift not in FOLDER_SHIFTS:
        raise ValueError(f"unknown video shift {shift!r}; known: {', '.join(FOLDER_SHIFTS)}")
    folder = scan_folder(src_dir)
    spec = VIDEO_SHIFTS.get(shift) or DEMO_SHIFTS[shift]
    params = _params(spec)
    key = shift_key(folder, shift, params)
    root = Path(cache_root) if cache_root is not None else DEFAULT_CACHE
    dst = Path(dst_dir) if dst_dir is not None else root / f"{shift}-{key[:16]}"
    if _is_complete(dst, key):
        return dst
    if dst.exists() and any(dst.iterdir()):
        if dst_dir is not None:
            raise FileExistsError(f"{dst} exists and is not a finished '{shift}' folder of "
                                  f"{src_dir}: choose an empty or new folder")
        shutil.rmtree(dst)  # an interrupted build in the cache
    stage = dst.with_name(f"{dst.name}.tmp{os.getpid()}")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        if isinstance(spec, VideoShift):
            n = _write_shifted_clips(folder, spec, stage, progress)
        else:
            n = _write_demo_mix(folder, spec, stage, progress)
        manifest = {"version": SHIFTED_VERSION, "key": key, "shift": shift, "params": params,
                    "source": str(src_dir), "clips": n}
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        if dst.exists():
            dst.rmdir()  # empty (checked above)
        os.replace(stage, dst)
    except OSError:
        if not _is_complete(dst, key):  # not just another process finishing first
            raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return dst


def _params(spec: VideoShift | DemoShift) -> dict[str, Any]:
    if isinstance(spec, VideoShift):
        return {"fps": spec.fps, "crf": spec.crf, **spec.params}
    return {"skills": list(spec.skills), "added_per_clip": spec.added_per_clip,
            "seed_base": spec.seed_base}


def _is_complete(dst: Path, key: str) -> bool:
    try:
        return json.loads((dst / MANIFEST).read_text()).get("key") == key
    except (OSError, ValueError, AttributeError):
        return False


def _relative(path: Path, root: Path) -> Path:
    return Path(path.name) if root.is_file() else path.relative_to(root)


def _out_path(rel: Path, used: set[Path]) -> Path:
    """``rel`` as an ``.mp4`` name no other clip of the folder took (a.avi + a.mp4)."""
    out = rel.with_suffix(".mp4")
    if out in used:
        out = rel.with_name(rel.name.replace(".", "_") + ".mp4")
    used.add(out)
    return out


def _even(frames: np.ndarray) -> np.ndarray:
    """Drop a last row/column so both sizes are even (H.264 yuv420p needs it)."""
    h, w = frames.shape[1:3]
    return frames[:, : h - h % 2, : w - w % 2]


def _write_sidecar(clip_path: Path, out: Path, extra: dict[str, Any]) -> None:
    meta = read_metadata(clip_path)  # expert actions already dropped
    if meta is None:
        return
    sidecar_path(out).write_text(json.dumps({**meta, **extra}, separators=(",", ":")) + "\n")


def shift_clip_file(clip: ClipInfo, rel: Path, spec: VideoShift, out: Path) -> int:
    """Write one clip under a video shift (decoded and re-encoded chunk by chunk).

    Returns the number of frames written.
    """
    transform = spec.transform(clip_rng(rel.as_posix())) if spec.transform else None
    count = 0

    def frames():
        nonlocal count
        for chunk in iter_frame_chunks(clip, fps=spec.fps):
            chunk = _even(transform(chunk) if transform is not None else chunk)
            count += len(chunk)
            yield from chunk

    write_clip(out, frames(), spec.fps or clip.fps, crf=spec.crf)
    return count


def _write_shifted_clips(
    folder: ClipFolder, spec: VideoShift, stage: Path, progress: bool
) -> int:
    used: set[Path] = set()
    for clip in tqdm(folder.clips, desc=f"video shift {spec.name}", disable=not progress):
        rel = _relative(clip.path, folder.root)
        out = stage / _out_path(rel, used)
        out.parent.mkdir(parents=True, exist_ok=True)
        n = shift_clip_file(clip, rel, spec, out)
        _write_sidecar(clip.path, out, {"video_shift": spec.name, "shift_params": _params(spec),
                                        "fps": spec.fps or clip.fps, "frames": n,
                                        "source_clip": rel.as_posix()})
    return len(folder)


def _write_demo_mix(folder: ClipFolder, spec: DemoShift, stage: Path, progress: bool) -> int:
    """Source clips (linked) under ``experts/``, weaker ones recorded under ``skill<s>/``."""
    metas = [read_metadata(c.path) or {} for c in folder]
    games = {m.get("game") for m in metas} - {None}
    if len(games) != 1:
        raise ValueError(f"'{spec.name}' records more clips of the game the folder shows, but the "
                         f"sidecars in {folder.root} name {sorted(games) or 'no game'}")
    game = get_game(games.pop()).name
    used = {int(m["seed"]) for m in metas if isinstance(m.get("seed"), int)}
    skills = spec.added(len(folder))
    if used & set(range(spec.seed_base, spec.seed_base + len(skills))):
        raise ValueError(f"clips in {folder.root} already use seeds from {spec.seed_base}: "
                         "recording there would repeat their episodes")
    lengths = [int(m["length"]) for m in metas if isinstance(m.get("length"), int)]
    kwargs = next((m["env_kwargs"] for m in metas if isinstance(m.get("env_kwargs"), dict)), {})
    options = {k: v for k, v in kwargs.items() if k in get_game(game).options}

    for clip in folder:
        rel = Path("experts") / _relative(clip.path, folder.root)
        out = stage / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(clip.path, out)  # same bytes: the feature cache is shared too
        except OSError:
            shutil.copyfile(clip.path, out)
        _write_sidecar(clip.path, out, {"video_shift": spec.name, "demonstrator": "expert"})
    seed = spec.seed_base
    for skill in dict.fromkeys(skills):
        episodes = skills.count(skill)
        record_videos(RecordConfig(
            env=game, episodes=episodes, out=stage / f"skill{skill:g}", seed=seed, skill=skill,
            max_episode_steps=max(lengths) if lengths else None, env_options=options,
        ), progress=progress)
        seed += episodes
    return len(folder) + len(skills)
