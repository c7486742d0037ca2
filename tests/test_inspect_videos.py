"""scripts/inspect_videos.py end to end: table, contact sheet, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_inspect(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "inspect_videos.py"), "--videos", str(folder),
         *args],
        capture_output=True, text=True, timeout=120,
    )


def test_mixed_folder_lists_every_clip_with_its_status(tmp_path, clip_factory):
    clip_factory("videos/good_a.mp4", n=20, fps=50)
    clip_factory("videos/nested/good_b.webm", n=30, fps=25, size=(48, 64))
    (tmp_path / "videos" / "empty.mp4").write_bytes(b"")
    (tmp_path / "videos" / "notes.mov").write_text("not a video")
    sheet = tmp_path / "sheet.png"
    result = run_inspect(tmp_path / "videos", "--sheet", str(sheet))
    assert result.returncode == 0, result.stderr
    lines = {ln.split()[0]: ln for ln in result.stdout.splitlines() if ln.strip()}
    assert "ok" in lines["good_a.mp4"] and "96x96" not in lines["good_a.mp4"]
    assert "32x32" in lines["good_a.mp4"] and " 20 " in lines["good_a.mp4"]
    assert "64x48" in lines["nested/good_b.webm"] and "25.00" in lines["nested/good_b.webm"]
    assert "skipped: empty file" in lines["empty.mp4"]
    assert "skipped:" in lines["notes.mov"]
    assert "2 usable clip(s), 2 skipped" in result.stdout
    assert sheet.stat().st_size > 1000 and sheet.read_bytes()[:4] == b"\x89PNG"


def test_folder_of_only_bad_files_exits_nonzero_with_one_line(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"")
    (tmp_path / "b.avi").write_text("hello")
    result = run_inspect(tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert "a.mp4" in message and "b.avi" in message and "no decodable video" in message
