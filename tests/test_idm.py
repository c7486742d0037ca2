"""InverseDynamicsModel: learns p(a | s, s'), labels expert pairs, round-trips to disk."""

import pytest
import torch

from lfo.algorithms.idm import IDMConfig, InverseDynamicsModel
from lfo.data.transitions import Transitions

D, A = 6, 4
# action a adds the step STEPS[a] to the state; actions 2 and 3 have the same effect
STEPS = torch.tensor(
    [[1.0, 0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0, 0], [0, 0, 1.0, 0, 0, 0], [0, 0, 1.0, 0, 0, 0]]
)


def transitions(n, seed):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, D, generator=g)
    a = torch.randint(0, A, (n,), generator=g)
    s2 = s + STEPS[a] + 0.05 * torch.randn(n, D, generator=g)
    return s, s2, a


@pytest.fixture(scope="module")
def trained():
    idm = InverseDynamicsModel(IDMConfig(obs_dim=D, n_actions=A, hidden=(32,), lr=1e-2, seed=0))
    for step in range(300):
        s, s2, a = transitions(64, seed=step)
        idm.update(s, s2, a)
    return idm


def test_learns_distinguishable_actions_and_stays_soft_on_ambiguous_ones(trained):
    s, s2, a = transitions(2000, seed=10_000)
    probs = trained.label(s, s2)
    assert probs.shape == (2000, A)
    assert torch.allclose(probs.sum(1), torch.ones(2000), atol=1e-5)
    # actions 0 and 1 are identifiable
    clear = a < 2
    assert trained.accuracy(s[clear], s2[clear], a[clear]) > 0.97
    # actions 2 and 3 produce the same s': the posterior splits ~1/2, 1/2 (uniform prior)
    amb = probs[a >= 2]
    assert amb[:, 2:].sum(1).mean() > 0.95
    assert amb[:, 2].mean() == pytest.approx(0.5, abs=0.1)
    # overall accuracy is therefore about 1/2 + 1/2 * 1/2 = 3/4
    assert trained.accuracy(s, s2, a) == pytest.approx(0.75, abs=0.05)


def test_untrained_model_is_near_chance():
    idm = InverseDynamicsModel(IDMConfig(obs_dim=D, n_actions=A, hidden=(32,), seed=1))
    s, s2, a = transitions(2000, seed=5)
    assert idm.accuracy(s, s2, a) < 0.45


def test_label_batch_fills_actions(trained):
    s, s2, a = transitions(10, seed=3)
    batch = Transitions(s, s2, torch.zeros(10))
    soft = trained.label_batch(batch)
    hard = trained.label_batch(batch, soft=False)
    assert soft.action.shape == (10, A) and hard.action.shape == (10,)
    assert torch.equal(hard.action, soft.action.argmax(1))
    assert batch.action is None  # the input is not modified


def test_concat_mode_and_bad_mode():
    idm = InverseDynamicsModel(IDMConfig(obs_dim=D, n_actions=A, hidden=(), input_mode="concat"))
    assert idm(torch.zeros(3, D), torch.zeros(3, D)).shape == (3, A)
    with pytest.raises(ValueError, match="input_mode"):
        InverseDynamicsModel(IDMConfig(obs_dim=D, n_actions=A, input_mode="sum"))


def test_save_load_roundtrip(trained, tmp_path):
    path = tmp_path / "idm.pt"
    trained.save(path)
    loaded = InverseDynamicsModel.load(path)
    s, s2, _ = transitions(20, seed=7)
    assert loaded.config == trained.config
    assert torch.allclose(loaded.label(s, s2), trained.label(s, s2))
    with pytest.raises(FileNotFoundError, match="no inverse dynamics checkpoint"):
        InverseDynamicsModel.load(tmp_path / "nope.pt")
