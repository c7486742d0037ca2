"""Checkpoints of a run, written atomically: ``checkpoint/`` holds the learner's own files
and ``state.pt`` (the loop's counters, replay and generators). A save cut short leaves the
previous checkpoint (or ``checkpoint.old``) readable.

Every file is plain data read with ``weights_only=True`` (:mod:`lfo.data.safe_load`), so
opening a run folder someone else wrote never runs code: a file that needs more is refused
with :class:`~lfo.data.safe_load.UnsafeCheckpoint`, and never replaced by the older copy."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lfo.algorithms.learner import Learner
from lfo.data.safe_load import UnsafeCheckpoint, load_legacy, safe_load, safe_save

#: a run's folder of the learner at each evaluation (``--keep-eval-checkpoints``):
#: ``step_<N>/``, the learner's files and its step, without the replay
EVAL_CHECKPOINTS = "checkpoints"


def write_checkpoint(folder: Path, learner: Learner, state: dict[str, Any]) -> None:
    """Write ``learner`` and ``state`` to ``folder`` (staged beside it, then swapped in)."""
    stage = folder.with_name(folder.name + ".new")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    learner.save(stage)
    safe_save(state, stage / "state.pt")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(stage, folder)
    shutil.rmtree(old, ignore_errors=True)


def read_checkpoint(
    folder: Path, new_learner: Callable[[], Learner]
) -> tuple[Learner, dict[str, Any]]:
    """A fresh learner loaded from ``folder`` (or its ``.old`` copy) and the saved state.

    Raises a ``RuntimeError`` that says how to start again when neither copy is readable,
    and :class:`~lfo.data.safe_load.UnsafeCheckpoint` at once for a file that needs more
    than plain data (the older copy is not tried: a refused file is not a corrupt one).
    """
    last_error: Exception | None = None
    for candidate in (folder, folder.with_name(folder.name + ".old")):
        try:
            state = read_state(candidate)
            learner = new_learner()
            learner.load(candidate)
            return learner, state
        except UnsafeCheckpoint:
            raise
        except Exception as exc:  # corrupt or partial: try the older copy
            last_error = exc
    raise RuntimeError(
        f"cannot resume from {folder}: no readable checkpoint "
        f"({type(last_error).__name__}: {last_error}); start it again with --force"
    ) from last_error


def read_state(folder: Path) -> dict[str, Any]:
    """The loop's saved state (``folder/state.pt``), numpy arrays as saved."""
    return safe_load(Path(folder) / "state.pt")


# ----------------------------------------------------------------------------- older runs
@dataclass
class ConvertConfig:
    """Which run folder to convert (scripts/convert_checkpoint.py)."""

    run: Path
    """Run folder (config.json + checkpoint/) whose checkpoint files to convert."""
    dry_run: bool = False
    """Only list the files that need converting; change nothing."""


def older_checkpoint_files(run: Path) -> list[Path]:
    """The ``.pt`` files of ``run``'s checkpoint (and its older copy) that the safe reader
    refuses; a corrupt file raises as it is."""
    folders = [run / name for name in ("checkpoint", "checkpoint.old") if (run / name).is_dir()]
    if not folders:
        raise FileNotFoundError(f"{run} has no checkpoint/ folder: nothing to convert")
    found = []
    for path in sorted(p for folder in folders for p in folder.glob("*.pt")):
        try:
            safe_load(path)
        except UnsafeCheckpoint:
            found.append(path)
    return found


def convert_older_checkpoint(path: Path) -> None:
    """Rewrite one checkpoint file of an older lfo (numpy objects pickled) as plain data.

    The old file is read by :func:`~lfo.data.safe_load.load_legacy`, which runs nothing and
    refuses anything but numeric numpy arrays and scalars; the new file is written beside it,
    read back the safe way, then swapped in (a file that cannot be converted stays as it was).
    """
    data = load_legacy(path)
    new = path.with_name(path.name + ".converted")
    try:
        safe_save(data, new)
        safe_load(new)
        os.replace(new, path)
    finally:
        new.unlink(missing_ok=True)
