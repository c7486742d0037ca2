"""Distribution shift: the named ways videos, demonstrators and games differ from the
agent's world (:mod:`lfo.shifts.registry`), and shifted copies of clip folders built on
demand (:mod:`lfo.shifts.folders`)."""
