"""The run's logs: one-line messages, CSV metrics written as they come, and SIGTERM as
Ctrl-C so a scheduler's kill also saves a checkpoint."""

from __future__ import annotations

import contextlib
import csv
import signal
import threading
from pathlib import Path
from typing import Any

from tqdm import tqdm

from lfo.data.files import atomic_write


def say(line: str) -> None:
    """One line of progress for the user (through tqdm, so bars are not broken)."""
    tqdm.write(line)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within the block, SIGTERM (a scheduler's kill) raises KeyboardInterrupt, like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def drop_rows_after(path: Path, step: int) -> None:
    """Keep only the CSV rows logged at or before ``step`` (rows after the checkpoint are
    logged again by the resumed run)."""
    if not path.is_file():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    kept = [r for r in rows if float(r["step"]) <= step]
    if len(kept) != len(rows):
        write_rows(path, kept)


class CsvLog:
    """Append rows to a CSV whose columns are fixed by the first row."""

    def __init__(self, path: Path, append: bool) -> None:
        self.path, self.file, self.writer = path, None, None
        self.append = append and path.exists()

    def write(self, row: dict[str, Any]) -> None:
        if self.writer is None:
            self.file = open(self.path, "a" if self.append else "w", newline="")  # noqa: SIM115
            self.writer = csv.DictWriter(self.file, fieldnames=list(row), extrasaction="ignore")
            if not self.append:
                self.writer.writeheader()
        self.writer.writerow(row)
        self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    def write(f) -> None:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    atomic_write(path, write, mode="w")


