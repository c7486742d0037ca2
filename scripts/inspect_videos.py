#!/usr/bin/env python
"""List the clips in a folder (frames, fps, resolution, duration, status) and save a contact sheet.

    python scripts/inspect_videos.py videos/carracing [--sheet out.png] [--json rows.json]

Exits 1 with one line on stderr when the folder holds no usable clip.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lfo.analysis.inspection import inspect_folder  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of clips (searched recursively)")
    parser.add_argument("--sheet", type=Path, default=None,
                        help="contact-sheet PNG path (default: <folder>/contact_sheet.png)")
    parser.add_argument("--json", type=Path, default=None, help="also write the table as JSON")
    parser.add_argument("--frames-per-clip", type=int, default=6,
                        help="frames sampled per clip on the contact sheet")
    args = parser.parse_args(argv)
    return inspect_folder(args.folder, sheet=args.sheet, json_path=args.json,
                          frames_per_clip=args.frames_per_clip)


if __name__ == "__main__":
    sys.exit(main())
