"""Rebuild the game detector's reference frames from folders of each supported game's clips.

    lfo-build-game-references --videos videos

Reads videos/carracing, videos/pong and videos/breakout (one folder per supported game
under --videos), decodes a few frames per clip, keeps the distinct ones, and writes them
to the file the detector loads (lfo/demonstrations/game_references.npz by default) with a
manifest holding its SHA-256, the clips it came from and the settings. Measure the
detector on the new file with `python -m experiments.game_detector_accuracy`.

`python scripts/build_game_references.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from lfo.data.files import atomic_write, atomic_write_text, file_digest
from lfo.data.video import NoUsableClipError, scan_folder
from lfo.demonstrations import game_detector as gd
from lfo.envs.games import GAMES


@dataclass
class BuildReferencesConfig:
    """Where the clips are and where the references go."""

    videos: str = "videos"
    """Folder holding one folder of clips per supported game (carracing/, pong/, breakout/)."""
    out: str | None = None
    """The reference file to write, its manifest beside it as .json (default: the file the
    detector loads, lfo/demonstrations/game_references.npz)."""
    frames_per_clip: int = 8
    """Frames decoded per clip (spread over it); near-repeats are dropped afterwards."""


def build(cfg: BuildReferencesConfig) -> dict:
    """Write the reference file and its manifest; return the manifest."""
    root = Path(cfg.videos)
    folders = {game: root / game for game in GAMES}
    missing = [str(f) for f in folders.values() if not f.is_dir()]
    if missing:
        raise FileNotFoundError(f"no clip folder {', '.join(missing)}: --videos must hold one "
                                f"folder per supported game ({', '.join(GAMES)})")
    frames = gd.build_reference_frames(folders, cfg.frames_per_clip)
    out = Path(cfg.out) if cfg.out is not None else gd.REFERENCES
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **frames)
    atomic_write(out, lambda f: f.write(buffer.getvalue()))
    manifest = {
        "file": out.name,
        "sha256": file_digest(out),
        "sources": {game: {"folder": str(folder),
                           "clips": len(scan_folder(folder, warn=False)),
                           "references": int(len(frames[game]))}
                    for game, folder in folders.items()},
        "settings": {"frames_per_clip": cfg.frames_per_clip,
                     "decode_size": list(gd.DECODE_SIZE),
                     "reference_size": list(gd.REFERENCE_SIZE),
                     "distinct_distance": gd.DISTINCT_DISTANCE},
    }
    atomic_write_text(out.with_suffix(".json"), json.dumps(manifest, indent=1) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(BuildReferencesConfig, args=argv, description=__doc__)
    try:
        manifest = build(cfg)
    except (FileNotFoundError, NoUsableClipError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{g} {s['references']} from {s['clips']} clips"
                       for g, s in manifest["sources"].items())
    print(f"wrote {cfg.out or gd.REFERENCES}: reference frames {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
