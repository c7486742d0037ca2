"""List the clips in a folder (frames, fps, resolution, duration, status) and save a contact sheet.

    lfo-inspect-videos --videos videos/carracing [--sheet out.png] [--json rows.json]

Exits 1 with one line on stderr when the folder holds no usable clip.

`python scripts/inspect_videos.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import sys

import tyro

from lfo.analysis.inspection import InspectConfig, inspect_folder


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(InspectConfig, args=argv, description=__doc__)
    return inspect_folder(cfg.videos, sheet=cfg.sheet, json_path=cfg.json,
                          frames_per_clip=cfg.frames_per_clip)


if __name__ == "__main__":
    sys.exit(main())
