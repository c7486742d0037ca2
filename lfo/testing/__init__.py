"""Test beds small enough for unit tests and seconds-long experiments.

* :mod:`lfo.testing.chain`: the tabular chain MDP (walk right to the goal), its expert,
  and the loops that train any learner on it;
* :mod:`lfo.testing.pixel_chain`: the same chain seen through rendered pixels and the
  video pipeline's decode/resample steps (a test bed for distribution shifts).
"""
