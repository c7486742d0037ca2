"""Atomic writes: the new content or the old, never half, and the usual file mode."""

from __future__ import annotations

import os

import pytest

from lfo.data.files import atomic_write, atomic_write_text, file_digest


def test_atomic_write_replaces_whole_files_with_the_usual_mode(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_text(path, "old")
    old_mask = os.umask(0o022)
    try:
        atomic_write_text(path, "new")
    finally:
        os.umask(old_mask)
    assert path.read_text() == "new"
    assert os.stat(path).st_mode & 0o777 == 0o644  # not mkstemp's 0600

    def crash(f) -> None:
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, crash)
    assert path.read_text() == "new"  # the old content survives
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temp file left


def test_file_digest_depends_on_content_only(tmp_path):
    (tmp_path / "x").write_bytes(b"same")
    (tmp_path / "y").write_bytes(b"same")
    (tmp_path / "z").write_bytes(b"other")
    assert file_digest(tmp_path / "x") == file_digest(tmp_path / "y")
    assert file_digest(tmp_path / "x") != file_digest(tmp_path / "z")
