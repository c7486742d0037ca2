"""EVALUATION AND ORACLE BASELINES ONLY: the expert actions recorded beside each clip.

Nothing on the learning-from-video path imports this module; a test runs that path
with this module's reader made to fail, and with the sidecars deleted.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lfo.data.sidecar import ACTIONS_KEY, sidecar_path


class MissingLabelsError(RuntimeError):
    """A clip has no recorded expert actions."""


def read_expert_actions(clip_path: str | Path) -> np.ndarray:
    """The recorded expert actions of a clip (int64, one per env step)."""
    path = sidecar_path(clip_path)
    try:
        data = json.loads(path.read_text())
        actions = data[ACTIONS_KEY]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MissingLabelsError(f"{path}: no recorded expert actions ({exc})") from exc
    return np.asarray(actions, dtype=np.int64)
