"""Scripted privileged experts that play the games to record demonstration videos.

They read simulator internals (track geometry, RAM) that the learner never sees; their
recorded actions exist only for evaluation and explicitly labelled oracle baselines.
"""

from __future__ import annotations

from importlib import import_module

from lfo.demonstrations.experts.base import ScriptedExpert
from lfo.envs.games import get_game

#: game -> "module:Class" (imported on demand so one game's expert never blocks another)
_EXPERTS = {
    "carracing": "lfo.demonstrations.experts.carracing:CarRacingExpert",
    "pong": "lfo.demonstrations.experts.atari:PongExpert",
    "breakout": "lfo.demonstrations.experts.atari:BreakoutExpert",
}


def make_expert(game: str, *, skill: float = 1.0, seed: int = 0,
                lapse_steps: int = 4) -> ScriptedExpert:
    """The scripted expert for ``game`` (short name, as in :mod:`lfo.envs.games`); ``skill`` and
    ``lapse_steps`` as in :class:`ScriptedExpert`."""
    name = get_game(game).name
    if name not in _EXPERTS:
        raise ValueError(f"no scripted expert for {name!r}; experts: {', '.join(_EXPERTS)}")
    module, cls = _EXPERTS[name].split(":")
    return getattr(import_module(module), cls)(skill=skill, seed=seed, lapse_steps=lapse_steps)


__all__ = ["ScriptedExpert", "make_expert"]
