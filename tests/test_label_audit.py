"""The evaluation-only label audit: hand-checked confusion, recall and accuracy."""

import math

import numpy as np
import pytest

from lfo.analysis.label_audit import audit


def test_audit_by_hand():
    recorded = np.array([0, 0, 0, 1, 2, 2])
    guessed = np.array([0, 1, 0, 1, 0, 2])
    a = audit(guessed, recorded, n_actions=4)
    assert a.confusion == [[2, 1, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    assert a.accuracy == pytest.approx(4 / 6)
    assert a.prior_accuracy == pytest.approx(3 / 6)
    assert a.recall[:3] == pytest.approx([2 / 3, 1.0, 0.5]) and math.isnan(a.recall[3])
    assert a.expert_frequency == pytest.approx([0.5, 1 / 6, 1 / 3, 0.0])
    assert a.guessed_frequency == pytest.approx([0.5, 1 / 3, 1 / 6, 0.0])


def test_audit_rejects_bad_input():
    with pytest.raises(ValueError, match="equal"):
        audit(np.array([0, 1]), np.array([0]), n_actions=2)
    with pytest.raises(ValueError, match="outside"):
        audit(np.array([0, 2]), np.array([0, 1]), n_actions=2)
