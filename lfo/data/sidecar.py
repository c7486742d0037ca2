"""Clip sidecars (``clip_000.json`` beside ``clip_000.mp4``): metadata without actions.

The learning-from-video path may use a sidecar's *metadata* (which game, the expert's
return for normalised scores), never the recorded expert actions: this reader drops
them before anything else sees the dict. The actions are reachable only through
:mod:`lfo.demonstrations.labels` (evaluation and oracle baselines).

A sidecar that is not a JSON object, or whose known fields (:data:`FIELD_TYPES`) have the
wrong types, is named in a one-line warning and treated as absent: a broken sidecar must
neither stop a run nor decide anything about it (the clip's pictures then say which game
it shows).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

#: sidecar key holding the expert's actions (read only by lfo.demonstrations.labels; never by
#: learners)
ACTIONS_KEY = "expert_actions"

_NUMBER = (int, float)
#: the sidecar fields the library reads, and the JSON types each must have
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "game": (str,), "env_id": (str,), "env_kwargs": (dict,), "seed": (int,),
    "skill": _NUMBER, "return": _NUMBER, "length": _NUMBER, "frames": _NUMBER,
    "terminated": (bool,), "truncated": (bool,), "fps": _NUMBER, "control_hz": _NUMBER,
}
_TYPE_NAMES = {str: "a string", dict: "an object", int: "an integer", bool: "true or false",
               float: "a number"}


def sidecar_path(clip_path: str | Path) -> Path:
    """Where the sidecar of a clip lives."""
    return Path(clip_path).with_suffix(".json")


def read_metadata(clip_path: str | Path) -> dict[str, Any] | None:
    """A clip's sidecar metadata with the expert actions removed; ``None`` if absent or broken
    (a broken one is named in a warning: see :func:`sidecar_problem`)."""
    path = sidecar_path(clip_path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        warnings.warn(f"ignoring the sidecar {path}: unreadable ({exc})", stacklevel=2)
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        warnings.warn(f"ignoring the sidecar {path}: not valid JSON ({exc}); fix or delete it",
                      stacklevel=2)
        return None
    problem = sidecar_problem(data)
    if problem:
        warnings.warn(f"ignoring the sidecar {path}: {problem}; fix or delete it", stacklevel=2)
        return None
    data.pop(ACTIONS_KEY, None)
    return data


def sidecar_problem(data: Any) -> str | None:
    """Why parsed sidecar JSON cannot be used (``None`` if it can): not an object, or a
    field of :data:`FIELD_TYPES` with another type (``null`` counts as absent)."""
    if not isinstance(data, dict):
        return f"holds {type(data).__name__} where a JSON object is expected"
    for key, types in FIELD_TYPES.items():
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, bool) and bool not in types:  # JSON true is not a number here
            ok = False
        else:
            ok = isinstance(value, types)
        if not ok:
            return (f"field {key!r} is {json.dumps(value)[:40]}, which is not "
                    f"{_TYPE_NAMES[types[-1]]}")
    return None
