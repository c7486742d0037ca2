"""Inspect a folder of clips: a status table and a contact sheet of sampled frames."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lfo.data.video import ClipFolder, NoUsableClipError, clip_table, read_clip, scan_folder

#: contact-sheet thumbnails are this many pixels high (width keeps the clip's aspect)
THUMB_HEIGHT = 96
#: at most this many clips appear on one contact sheet
MAX_SHEET_CLIPS = 24


def format_table(rows: list[dict]) -> str:
    """A fixed-width text table of :func:`lfo.data.video.clip_table` rows."""
    header = ("clip", "frames", "fps", "resolution", "duration_s", "status")
    lines = []
    for r in rows:
        ok = r["status"] == "ok"
        lines.append((
            r["path"],
            str(r["n_frames"]) if ok else "-",
            f"{r['fps']:.2f}" if ok else "-",
            f"{r['width']}x{r['height']}" if ok else "-",
            f"{r['duration_s']:.2f}" if ok else "-",
            r["status"],
        ))
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)


def contact_sheet(folder: ClipFolder, path: Path, frames_per_clip: int = 6) -> Path:
    """Save a PNG grid: one row per clip, ``frames_per_clip`` evenly spaced frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clips = folder.clips[:MAX_SHEET_CLIPS]
    fig, axes = plt.subplots(
        len(clips), frames_per_clip, figsize=(1.6 * frames_per_clip, 1.7 * len(clips)),
        squeeze=False,
    )
    for row, clip in enumerate(clips):
        width = max(2, round(clip.width * THUMB_HEIGHT / clip.height / 2) * 2)
        frames = read_clip(clip, size=(THUMB_HEIGHT, width))
        picks = np.linspace(0, len(frames) - 1, frames_per_clip).round().astype(int)
        for col, index in enumerate(picks):
            ax = axes[row, col]
            ax.imshow(frames[index])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"t={index / clip.fps:.1f}s", fontsize=6)
        axes[row, 0].set_ylabel(clip.path.name, fontsize=6)
    fig.suptitle(f"{folder.root}: {len(folder.clips)} clip(s), {len(folder.skipped)} skipped")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


@dataclass
class InspectConfig:
    """Which clip folder to list, and where the contact sheet goes (scripts/inspect_videos.py)."""

    videos: Path
    """Folder of clips (searched recursively)."""
    sheet: Path | None = None
    """Contact-sheet PNG path (default: runs/inspect/<folder name>_contact_sheet.png)."""
    json: Path | None = None
    """Also write the table as JSON here."""
    frames_per_clip: int = 6
    """Frames sampled per clip on the contact sheet."""


def inspect_folder(
    root: Path,
    *,
    sheet: Path | None = None,
    json_path: Path | None = None,
    frames_per_clip: int = 6,
) -> int:
    """Print the clip table and write the contact sheet; return a process exit code."""
    try:
        folder = scan_folder(root, warn=False)
    except (NoUsableClipError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    rows = clip_table(folder)
    print(format_table(rows))
    print(f"\n{len(folder.clips)} usable clip(s), {len(folder.skipped)} skipped")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(rows, indent=2, default=str))
    sheet = sheet or Path("runs") / "inspect" / f"{Path(root).resolve().name}_contact_sheet.png"
    print(f"contact sheet: {contact_sheet(folder, sheet, frames_per_clip)}")
    return 0
