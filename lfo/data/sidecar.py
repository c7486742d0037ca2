"""Clip sidecars (``clip_000.json`` beside ``clip_000.mp4``): metadata without actions.

The learning-from-video path may use a sidecar's *metadata* (which game, the expert's
return for normalised scores), never the recorded expert actions: this reader drops
them before anything else sees the dict. The actions are reachable only through
:mod:`lfo.demonstrations.labels` (evaluation and oracle baselines).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: sidecar key holding the expert's actions (read only by lfo.demonstrations.labels; never by
#: learners)
ACTIONS_KEY = "expert_actions"


def sidecar_path(clip_path: str | Path) -> Path:
    """Where the sidecar of a clip lives."""
    return Path(clip_path).with_suffix(".json")


def read_metadata(clip_path: str | Path) -> dict[str, Any] | None:
    """A clip's sidecar metadata with the expert actions removed; ``None`` if absent or corrupt."""
    path = sidecar_path(clip_path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    data.pop(ACTIONS_KEY, None)
    return data
