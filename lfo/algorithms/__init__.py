"""Algorithms: the IQ-Learn loss as pure functions (:mod:`lfo.algorithms.iq`), the soft-Q
agent, the inverse dynamics model, exploration, and every learner by name
(:mod:`lfo.algorithms.methods`: our IQ variants, the baselines and the oracles)."""
