"""File helpers shared by the data caches and the encoder weights: a content digest and
an atomic text write (a crash leaves the old file or the new one, never half of one)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's content (a cache key that does not depend on its name or mtime)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
