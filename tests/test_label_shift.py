"""Label-shift correction of IDM labels (lfo.algorithms.label_shift): the maths by hand, EM
recovering a class mix, a world where the agent's habits mislabel the expert, and the
correction inside iq-idm (its optimiser, its checkpoint, its labels on the chain)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lfo.algorithms.idm import IDMConfig, InverseDynamicsModel
from lfo.algorithms.label_shift import (
    LabelShiftConfig,
    LabelShiftCorrection,
    em_prior_step,
    likelihood_from_posterior,
    posterior_under_prior,
)
from lfo.algorithms.methods import build_learner
from lfo.testing.chain import ChainMDP, ChainRunConfig, chain_settings, train_learner_on_chain

pytestmark = pytest.mark.usefixtures("one_torch_thread")
MDP = ChainMDP(n=8, horizon=20)


def test_likelihood_and_one_em_step_by_hand():
    posterior = torch.tensor([[0.8, 0.2], [0.5, 0.5]])
    behaviour = torch.tensor([[0.9, 0.1], [0.5, 0.01]])
    # floor 0.05: row 2's 0.01 counts as 0.05 -> [0.8/0.9, 0.2/0.1] = [8/9, 2], [1, 10]
    lik = likelihood_from_posterior(posterior, behaviour, floor=0.05)
    assert lik.flatten().tolist() == pytest.approx([8 / 9, 2.0, 1.0, 10.0])
    # under the prior [0.75, 0.25]: row 1 [2/3, 1/2] / (7/6) = [4/7, 3/7];
    # row 2 [3/4, 5/2] / (13/4) = [3/13, 10/13]; the next prior is their mean
    new_prior, q = em_prior_step(lik, torch.tensor([0.75, 0.25]))
    assert q.flatten().tolist() == pytest.approx([4 / 7, 3 / 7, 3 / 13, 10 / 13])
    assert new_prior.tolist() == pytest.approx([(4 / 7 + 3 / 13) / 2, (3 / 7 + 10 / 13) / 2])
    with pytest.raises(ValueError, match="differ in shape"):
        likelihood_from_posterior(posterior, behaviour[:, :1], floor=0.05)


def test_em_recovers_the_class_mix_of_unlabelled_samples():
    # two unit Gaussians at -1 and +1 (overlapping), drawn 80 / 20
    g = torch.Generator().manual_seed(0)
    cls = (torch.rand(20_000, generator=g) < 0.2).long()
    x = torch.randn(20_000, generator=g) + torch.where(cls == 1, 1.0, -1.0)
    lik = torch.stack([torch.exp(-(x + 1) ** 2 / 2), torch.exp(-(x - 1) ** 2 / 2)], dim=1)
    prior = torch.tensor([0.5, 0.5])
    for _ in range(200):
        prior, _ = em_prior_step(lik, prior)
    assert prior.tolist() == pytest.approx([0.8, 0.2], abs=0.02)
    # and the posteriors under it are better calibrated than under the uniform prior
    right = lambda p: float((posterior_under_prior(lik, p).argmax(1) == cls).float().mean())  # noqa: E731
    assert right(prior) > right(torch.tensor([0.5, 0.5])) + 0.03


def ambiguous_world(n: int, p_move: float, seed: int):
    """1-d state; action 1 moves it by +0.2, action 0 leaves it, both with noise 0.2 (a
    weak cue, like CarRacing's one step of gas against coasting); action 1 is taken with
    probability ``p_move``."""
    g = torch.Generator().manual_seed(seed)
    s = torch.rand(n, 1, generator=g)
    a = (torch.rand(n, generator=g) < p_move).long()
    s2 = s + 0.2 * a[:, None] + 0.2 * torch.randn(n, 1, generator=g)
    return s, s2, a


def test_the_correction_labels_the_expert_by_the_experts_habits_not_the_agents():
    # GIVEN an IDM and a behaviour model fitted on an agent that moves 10% of the time
    torch.manual_seed(0)
    idm = InverseDynamicsModel(IDMConfig(obs_dim=1, n_actions=2, hidden=(32,), lr=1e-2, seed=0))
    shift = LabelShiftCorrection(LabelShiftConfig(obs_dim=1, n_actions=2, hidden=(32,),
                                                  lr=1e-2, prior_rate=0.05, seed=0))
    for step in range(600):
        s, s2, a = ambiguous_world(256, p_move=0.1, seed=step)
        idm.update(s, s2, a)
        shift.update(s, a)
    # WHEN it labels an expert that moves 90% of the time (its labels never read)
    s, s2, truth = ambiguous_world(4000, p_move=0.9, seed=10_000)
    raw = idm.label(s, s2, soft=True)
    for i in range(0, 3 * 4000, 100):  # the online EM, one expert batch at a time (3 passes)
        shift.correct(s[i % 4000:i % 4000 + 100], raw[i % 4000:i % 4000 + 100])
    corrected = shift.correct(s, raw, learn_prior=False)
    # THEN the raw IDM calls most of the expert's moves "stay" (the agent's prior), while
    # the corrected labels follow the expert's frequencies
    raw_right = float((raw.argmax(1) == truth).float().mean())
    fixed_right = float((corrected.argmax(1) == truth).float().mean())
    assert raw_right < 0.5, raw_right
    assert fixed_right > raw_right + 0.3, (raw_right, fixed_right)
    assert shift.prior[1] > 0.75, (shift.prior, raw_right, fixed_right)


def test_iq_idm_with_the_correction_learns_the_chain_and_keeps_it_in_its_checkpoint(tmp_path):
    settings = chain_settings(MDP, seed=0, idm_label_shift=True)
    learner = build_learner("iq-idm", settings)
    assert learner.label_shift is not None
    assert build_learner("iq-idm", chain_settings(MDP, seed=0)).label_shift is None
    # its behaviour model's optimiser follows a learning-rate schedule like the others
    assert len(learner.optimizers()) == 3
    m = train_learner_on_chain(MDP, learner, ChainRunConfig(env_steps=1000, warmup=50))
    assert m["return_greedy"] == -7.0 and m["greedy_right_frac"] == 1.0, m
    # the expert walks right: the estimated expert frequency of "right" leads
    prior = learner.label_shift.prior
    assert int(prior.argmax()) == 2 and float(prior.sum()) == pytest.approx(1.0), prior
    learner.save(tmp_path)
    fresh = build_learner("iq-idm", dataclasses.replace(settings, seed=1))
    fresh.load(tmp_path)
    feats = torch.from_numpy(MDP.features(np.arange(MDP.n - 1)))
    nxt = torch.from_numpy(MDP.features(np.arange(1, MDP.n)))
    assert torch.equal(fresh.label_shift.prior, prior)
    assert torch.allclose(fresh.label_expert(feats, nxt), learner.label_expert(feats, nxt))
