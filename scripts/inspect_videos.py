#!/usr/bin/env python
"""List the clips in a folder (frames, fps, resolution, duration, status) and save a contact sheet.

    python scripts/inspect_videos.py --videos videos/carracing [--sheet out.png] [--json rows.json]

Exits 1 with one line on stderr when the folder holds no usable clip.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tyro  # noqa: E402

from lfo.analysis.inspection import InspectConfig, inspect_folder  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(InspectConfig, args=argv, description=__doc__)
    return inspect_folder(cfg.videos, sheet=cfg.sheet, json_path=cfg.json,
                          frames_per_clip=cfg.frames_per_clip)


if __name__ == "__main__":
    sys.exit(main())
