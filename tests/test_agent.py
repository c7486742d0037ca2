"""SoftQAgent: acting, one update, target network, double-Q, save/load."""

import dataclasses

import numpy as np
import pytest
import torch

from lfo.algorithms import iq
from lfo.algorithms.agent import SoftQAgent, SoftQConfig
from lfo.data.transitions import Transitions


def make_batches(n=16, d=5, a=3, seed=0, expert_actions=True):
    g = torch.Generator().manual_seed(seed)
    expert = Transitions(
        obs=torch.randn(n, d, generator=g),
        next_obs=torch.randn(n, d, generator=g),
        done=(torch.rand(n, generator=g) < 0.2).float(),
        action=torch.randint(0, a, (n,), generator=g) if expert_actions else None,
    )
    agent = Transitions(
        obs=torch.randn(n, d, generator=g),
        next_obs=torch.randn(n, d, generator=g),
        done=torch.zeros(n),
        action=torch.randint(0, a, (n,), generator=g),
    )
    return expert, agent


def set_linear_q(agent: SoftQAgent, weight: torch.Tensor) -> None:
    """Make Q(x) = x @ weight.T exactly (hidden=() gives a single Linear)."""
    with torch.no_grad():
        agent.q[0].weight.copy_(weight)
        agent.q[0].bias.zero_()


def test_act_greedy_and_sampled_distribution():
    agent = SoftQAgent(SoftQConfig(obs_dim=2, n_actions=3, hidden=(), alpha=1.0, seed=0))
    # Q(x) = [0, log 2, log 5] at x = [1, 0]: softmax = [1/8, 2/8, 5/8]
    set_linear_q(agent, torch.tensor([[0.0, 0.0], [np.log(2), 0.0], [np.log(5), 0.0]]))
    x = np.array([1.0, 0.0], dtype=np.float32)
    assert agent.act(x, greedy=True) == 2
    assert isinstance(agent.act(x), int)
    batch = agent.act(np.tile(x, (4000, 1)))
    assert isinstance(batch, np.ndarray) and batch.shape == (4000,)
    freq = np.bincount(batch, minlength=3) / 4000
    assert freq == pytest.approx([1 / 8, 2 / 8, 5 / 8], abs=0.03)
    # reproducible given the seed
    a1 = SoftQAgent(SoftQConfig(obs_dim=2, n_actions=3, hidden=(), alpha=1.0, seed=7))
    a2 = SoftQAgent(SoftQConfig(obs_dim=2, n_actions=3, hidden=(), alpha=1.0, seed=7))
    for a in (a1, a2):
        set_linear_q(a, agent.q[0].weight.detach())
    xs = np.tile(x, (50, 1))
    assert np.array_equal(a1.act(xs), a2.act(xs))


def test_update_moves_q_and_polyak_target():
    cfg = SoftQConfig(
        obs_dim=5, n_actions=3, hidden=(8,), variant="actions", tau=0.25, lr=1e-2, seed=1
    )
    agent = SoftQAgent(cfg)
    before = [p.detach().clone() for p in agent.q.parameters()]
    target_before = [p.detach().clone() for p in agent.q_target.parameters()]
    expert, batch = make_batches()
    diag = agent.update(expert, batch)
    for k in ("loss", "reward_expert", "reward_agent", "chi2_term", "value_term", "grad_norm"):
        assert np.isfinite(diag[k])
    after = [p.detach() for p in agent.q.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))
    # target = (1 - tau) * old target + tau * new online
    for t_old, t_new, p in zip(target_before, agent.q_target.parameters(), after, strict=True):
        assert torch.allclose(t_new, 0.75 * t_old + 0.25 * p, atol=1e-6)
    assert agent.updates == 1


def test_loss_decreases_on_fixed_batches():
    cfg = SoftQConfig(
        obs_dim=5, n_actions=3, hidden=(16,), variant="idm", lr=1e-2, use_target=False, seed=2
    )
    agent = SoftQAgent(cfg)
    expert, batch = make_batches(seed=3)
    first = agent.update(expert, batch)["loss"]
    for _ in range(100):
        last = agent.update(expert, batch)["loss"]
    assert last < first - 0.1


def test_variant_needs_labels_and_state_only_does_not():
    expert, batch = make_batches(expert_actions=False)
    with pytest.raises(ValueError, match="needs expert actions"):
        SoftQAgent(SoftQConfig(obs_dim=5, n_actions=3, variant="idm")).update(expert, batch)
    diag = SoftQAgent(SoftQConfig(obs_dim=5, n_actions=3, variant="state-only")).update(
        expert, batch
    )
    assert np.isfinite(diag["loss"])
    with pytest.raises(ValueError, match="unknown variant"):
        SoftQAgent(SoftQConfig(obs_dim=5, n_actions=3, variant="nope"))


def test_double_q_next_value():
    cfg = SoftQConfig(obs_dim=5, n_actions=3, hidden=(8,), alpha=0.5, double_q=True, seed=4)
    agent = SoftQAgent(cfg)
    x = torch.randn(10, 5)
    # online == target: E_pi[Q - alpha log pi] with pi = softmax(Q/alpha) is exactly V
    assert torch.allclose(agent._next_value(x), iq.soft_value(agent.q_target(x), 0.5), atol=1e-5)
    # once they differ, the online policy is a suboptimal soft-maximiser of the target Q
    with torch.no_grad():
        for p in agent.q.parameters():
            p.add_(torch.randn_like(p))
    assert (agent._next_value(x) <= iq.soft_value(agent.q_target(x), 0.5) + 1e-5).all()
    assert not torch.allclose(agent._next_value(x), iq.soft_value(agent.q_target(x), 0.5))


def test_save_load_roundtrip(tmp_path):
    cfg = SoftQConfig(obs_dim=5, n_actions=3, hidden=(8, 4), variant="actions", seed=5)
    agent = SoftQAgent(cfg)
    expert, batch = make_batches()
    agent.update(expert, batch)
    path = tmp_path / "sub" / "agent.pt"
    agent.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["agent.pt"]  # no temp file left
    loaded = SoftQAgent.load(path)
    assert loaded.config == cfg and loaded.updates == 1
    x = torch.randn(7, 5)
    assert torch.equal(loaded.q_values(x), agent.q_values(x))
    assert torch.equal(loaded.q_target(x), agent.q_target(x))
    # optimiser state restored: the next update is identical
    d1, d2 = agent.update(expert, batch), loaded.update(expert, batch)
    assert d1["loss"] == pytest.approx(d2["loss"])
    assert torch.allclose(loaded.q_values(x), agent.q_values(x), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="no agent checkpoint"):
        SoftQAgent.load(tmp_path / "missing.pt")


def test_transitions_validation():
    with pytest.raises(ValueError, match="done must have shape"):
        Transitions(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(2))
    with pytest.raises(ValueError, match="differ"):
        Transitions(torch.zeros(3, 2), torch.zeros(3, 4), torch.zeros(3))
    t = Transitions(
        torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3), torch.zeros(3, dtype=torch.long)
    )
    assert len(t) == 3 and dataclasses.replace(t, action=None).action is None


def _separable_batches(n=64, d=4, seed=0):
    """Expert states around +2 e_0, agent states around -2 e_0: a linear cut separates them."""
    g = torch.Generator().manual_seed(seed)

    def states(sign):
        x = 0.1 * torch.randn(n, d, generator=g)
        x[:, 0] += 2.0 * sign
        return x

    expert = Transitions(obs=states(1), next_obs=states(1), done=torch.zeros(n),
                         action=torch.zeros(n, dtype=torch.long))
    agent = Transitions(obs=states(-1), next_obs=states(-1), done=torch.zeros(n),
                        action=torch.randint(0, 2, (n,), generator=g))
    return expert, agent


@pytest.mark.slow
@pytest.mark.parametrize("weight", [0.0, 10.0])
def test_gradient_penalty_keeps_a_slope_instead_of_a_cliff(weight):
    """On separable states plain IQ pushes V(expert) - V(agent) far beyond what a
    1-Lipschitz V can span (the states are ~4 apart) and keeps growing; the penalty
    holds the gap near that distance and still positive (expert states stay worth more)."""
    torch.manual_seed(0)
    expert, agent = _separable_batches()
    q = SoftQAgent(SoftQConfig(obs_dim=4, n_actions=2, hidden=(32,), variant="actions",
                               lr=3e-3, grad_penalty=weight, seed=0))
    for _ in range(1200):  # ~4 s
        logs = q.update(expert, agent)
    assert ("grad_penalty" in logs) == (weight > 0)
    with torch.no_grad():
        gap = float(iq.soft_value(q.q(expert.obs), 0.01).mean()
                    - iq.soft_value(q.q(agent.obs), 0.01).mean())
    if weight == 0:
        assert gap > 9.0  # measured 12.3, still growing linearly
    else:
        assert 3.0 < gap < 5.5  # measured 4.38, flat since ~800 updates


def test_bc_weight_adds_the_cloning_term_on_the_expert_labels():
    """loss(bc_weight=w) = loss(0) + w * alpha * CE(pi(. | s_E), label) on the same network."""
    expert, batch = make_batches(n=32, seed=5)
    losses, agents = {}, {}
    for w in (0.0, 2.0):
        agents[w] = SoftQAgent(SoftQConfig(obs_dim=5, n_actions=3, hidden=(16,), variant="idm",
                                           alpha=0.1, bc_weight=w, zero_init_output=False,
                                           seed=4))
        losses[w], diag = agents[w].loss(expert, batch)
        assert ("bc_term" in diag) == (w > 0)
    with torch.no_grad():
        cloning = iq.label_cross_entropy(agents[0.0].q(expert.obs), expert.action, 0.1)
    assert float(cloning) > 0.01
    assert float(losses[2.0].detach()) == pytest.approx(
        float(losses[0.0].detach()) + 2.0 * float(cloning), rel=1e-5)
    # and a few steps with it raise the labels' probability more than plain IQ does
    def label_prob(agent: SoftQAgent) -> float:
        for _ in range(3):
            agent.update(expert, batch)
        probs = iq.policy_probs(agent.q_values(expert.obs), 0.1)
        return float(probs.gather(1, expert.action.unsqueeze(1)).mean())
    assert label_prob(agents[2.0]) > label_prob(agents[0.0])
    with pytest.raises(ValueError, match="needs expert action labels"):
        SoftQAgent(SoftQConfig(obs_dim=5, n_actions=3, variant="state-only", bc_weight=1.0))
    with pytest.raises(ValueError, match="bc_weight must be >= 0"):
        SoftQAgent(SoftQConfig(obs_dim=5, n_actions=3, bc_weight=-1.0))


def test_state_only_learner_warns_that_it_ignores_bc_weight():
    from lfo.algorithms.iq_learner import IQLearner
    from lfo.algorithms.learner import LearnerSettings

    settings = LearnerSettings(hidden=(8,), bc_weight=1.0).for_problem(4, 3, seed=0)
    with pytest.warns(UserWarning, match="bc_weight is ignored"):
        learner = IQLearner(settings, "state-only")
    assert learner.agent.config.bc_weight == 0.0
    assert IQLearner(settings, "idm").agent.config.bc_weight == 1.0


def test_hard_target_copies_happen_every_interval_and_only_then():
    # GIVEN an agent whose target is copied every 3 updates
    agent = SoftQAgent(SoftQConfig(obs_dim=3, n_actions=2, hidden=(8,), seed=0,
                                   zero_init_output=False, target_update_interval=3))
    batch = Transitions(obs=torch.randn(16, 3), action=torch.randint(0, 2, (16,)),
                        next_obs=torch.randn(16, 3), done=torch.zeros(16))
    first = [p.clone() for p in agent.q_target.parameters()]
    # WHEN it takes two updates THEN the target has not moved at all
    for _ in range(2):
        agent.update(batch, batch)
    target, online = list(agent.q_target.parameters()), list(agent.q.parameters())
    assert all(torch.equal(a, b) for a, b in zip(first, target, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, online, strict=True))
    # AND the third update copies the online network exactly
    agent.update(batch, batch)
    assert all(torch.equal(a, b) for a, b in zip(agent.q.parameters(),
                                                 agent.q_target.parameters(), strict=True))


def test_absorbing_value_learns_only_when_enabled_and_survives_a_checkpoint(tmp_path):
    expert, batch = make_batches()  # the expert batch has terminals
    plain = SoftQAgent(SoftQConfig(obs_dim=5, n_actions=3, hidden=(8,), variant="actions",
                                   seed=5))
    absorbing = SoftQAgent(SoftQConfig(obs_dim=5, n_actions=3, hidden=(8,),
                                       variant="actions", seed=5, absorbing=True))
    for _ in range(5):
        d_plain, d_abs = plain.update(expert, batch), absorbing.update(expert, batch)
    assert "v_absorbing" not in d_plain and float(plain.absorbing_reward) == 0.0
    assert float(absorbing.absorbing_reward) != 0.0
    assert d_abs["v_absorbing"] == pytest.approx(
        float(absorbing.absorbing_reward) / (1 - absorbing.config.gamma), rel=0.2)
    absorbing.save(tmp_path / "agent.pt")
    loaded = SoftQAgent.load(tmp_path / "agent.pt")
    assert float(loaded.absorbing_reward) == float(absorbing.absorbing_reward)
    # the optimiser holds it too: the next update is identical
    assert loaded.update(expert, batch)["loss"] == pytest.approx(
        absorbing.update(expert, batch)["loss"])
    assert float(loaded.absorbing_reward) == pytest.approx(float(absorbing.absorbing_reward))


def test_weight_average_follows_the_updates_and_acts_without_touching_the_agents_draws(
        tmp_path):
    cfg = SoftQConfig(obs_dim=5, n_actions=3, hidden=(8,), zero_init_output=False,
                      average_decay=0.75, seed=0)
    agent = SoftQAgent(cfg)
    expert, batch = make_batches()
    start = [p.detach().clone() for p in agent.q.parameters()]
    agent.update(expert, batch)
    after_one = [p.detach().clone() for p in agent.q.parameters()]
    # one update: average = 0.75 start + 0.25 new weights
    for p0, p1, avg in zip(start, after_one, agent.q_average.parameters(), strict=True):
        assert torch.allclose(avg, 0.75 * p0 + 0.25 * p1)
    agent.update(expert, batch)
    for p0, p1, p2, avg in zip(start, after_one, agent.q.parameters(),
                               agent.q_average.parameters(), strict=True):
        assert torch.allclose(avg, 0.75 * (0.75 * p0 + 0.25 * p1) + 0.25 * p2)
    # the averaged copy acts with the average; sampling from it leaves the agent's draws
    twin = agent.averaged()
    x = torch.randn(4, 5)
    assert torch.allclose(twin.q_values(x), agent.q_average(x))
    assert not torch.allclose(twin.q_values(x), agent.q_values(x))
    state = agent.rng.bit_generator.state
    twin.act(x.numpy())
    assert agent.rng.bit_generator.state == state
    # it survives a checkpoint; without averaging there is none to ask for
    agent.save(tmp_path / "agent.pt")
    loaded = SoftQAgent.load(tmp_path / "agent.pt")
    assert torch.allclose(loaded.averaged().q_values(x), twin.q_values(x))
    with pytest.raises(ValueError, match="no average"):
        SoftQAgent(dataclasses.replace(cfg, average_decay=0.0)).averaged()
    with pytest.raises(ValueError, match="average_decay"):
        SoftQAgent(dataclasses.replace(cfg, average_decay=1.0))
