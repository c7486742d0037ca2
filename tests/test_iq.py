"""The IQ-Learn loss on numbers computed by hand, and its invariants."""

import math

import pytest
import torch

from lfo.algorithms import iq

L2, L3 = math.log(2), math.log(3)

# A hand-worked example: alpha = 1, gamma = 0.5, chi2_alpha = 0.25 (so 1/(4 alpha_chi) = 1).
# Q rows are logs of small integers so that V = log(sum of the integers):
#   expert Q = [[0, log 3], [log 2, log 2]] -> V = [log 4, log 4], pi = [[1/4, 3/4], [1/2, 1/2]]
#   agent  Q = [[0, log 3], [0, 0]]         -> V = [log 4, log 2]
# next values: expert V(s') = [2, 4] with done = [0, 1] -> y = gamma (1-d) V(s') = [1, 0]
#              agent  V(s') = [2, 6] with done = [0, 0] -> y = [1, 3]
# agent actions [1, 0] -> agent rewards r_A = [log 3 - 1, 0 - 3] = [0.098612, -3]
# value term = 1/2 (mean_E[V - y] + mean_A[V - y])
#            = 1/2 ((log4 - 1 + log4 - 0)/2 + (log4 - 1 + log2 - 3)/2) = -0.036992
Q_E = torch.tensor([[0.0, L3], [L2, L2]])
Q_A = torch.tensor([[0.0, L3], [0.0, 0.0]])
NEXT_V_E, DONE_E = torch.tensor([2.0, 4.0]), torch.tensor([0.0, 1.0])
NEXT_V_A, DONE_A = torch.tensor([2.0, 6.0]), torch.tensor([0.0, 0.0])
ACT_A = torch.tensor([1, 0])
HYPER = dict(alpha=1.0, gamma=0.5, chi2_alpha=0.25)


def loss_of(
    q_e=Q_E, q_a=Q_A, next_v_e=NEXT_V_E, done_e=DONE_E, next_v_a=NEXT_V_A, done_a=DONE_A, **kw
):
    kw = {**HYPER, **kw}
    return iq.iq_loss(q_e, next_v_e, done_e, q_a, ACT_A, next_v_a, done_a, **kw)


def test_soft_value_and_entropy_by_hand():
    # V = log(1 + 3) = log 4; H(1/4, 3/4) = log 4 - (3/4) log 3 = 0.562335
    assert iq.soft_value(Q_E, 1.0).tolist() == pytest.approx([math.log(4)] * 2)
    assert iq.policy_entropy(Q_E, 1.0).tolist() == pytest.approx([0.562335, L2], abs=1e-6)
    # temperature: V_alpha(Q) = alpha * V_1(Q / alpha); alpha = 0.5 on Q = [0, log 3]:
    # 0.5 * log(1 + 9) = 1.151293
    assert float(iq.soft_value(torch.tensor([0.0, L3]), 0.5)) == pytest.approx(0.5 * math.log(10))


def test_actions_loss_by_hand():
    # expert actions [1, 0]: r_E = [log3 - 1, log2 - 0] = [0.098612, 0.693147]
    # expert term = -mean(r_E) = -0.395880
    # chi2 = 1/2 (mean(r_E^2) + mean(r_A^2))
    #      = 1/2 ((0.009724 + 0.480453)/2 + (0.009724 + 9)/2) = 2.374975
    # loss = -0.395880 + 2.374975 - 0.036992 = 1.942103
    loss, d = loss_of(variant="actions", expert_action=torch.tensor([1, 0]))
    assert float(loss) == pytest.approx(1.942103, abs=1e-5)
    assert d["expert_term"] == pytest.approx(-0.395880, abs=1e-5)
    assert d["chi2_term"] == pytest.approx(2.374975, abs=1e-5)
    assert d["value_term"] == pytest.approx(-0.036992, abs=1e-5)
    assert d["reward_expert"] == pytest.approx(0.395880, abs=1e-5)
    assert d["reward_agent"] == pytest.approx((0.098612 - 3) / 2, abs=1e-5)
    assert d["v_expert"] == pytest.approx(math.log(4))
    assert d["v_agent"] == pytest.approx((math.log(4) + L2) / 2)
    assert d["entropy_expert"] == pytest.approx((0.562335 + L2) / 2, abs=1e-6)


def test_state_only_loss_by_hand():
    # sum_a pi Q: row 1 = 3/4 log 3 = 0.823959, row 2 = log 2 -> r_E = [-0.176041, 0.693147]
    # expert term = -(-0.176041 + 0.693147)/2 = -0.258553
    # chi2 on expert = E_pi[(Q - y)^2]:
    #   row 1 = 1/4 (0-1)^2 + 3/4 (log3-1)^2 = 0.257293, row 2 = log2^2 = 0.480453
    # chi2 = 1/2 ((0.257293 + 0.480453)/2 + 4.504862) = 2.436868
    # loss = -0.258553 + 2.436868 - 0.036992 = 2.141322
    loss, d = loss_of(variant="state-only")
    assert float(loss) == pytest.approx(2.141322, abs=1e-5)
    assert d["chi2_term"] == pytest.approx(2.436868, abs=1e-5)
    # "mean" chi2 squares the policy-averaged reward instead:
    # 1/2 ((0.030990 + 0.480453)/2 + 4.504862) = 2.380292 -> loss 2.084746
    loss_mean, d_mean = loss_of(variant="state-only", state_only_chi2="mean")
    assert float(loss_mean) == pytest.approx(2.084746, abs=1e-5)
    # E_pi[r^2] >= (E_pi r)^2 (Jensen): the policy form also penalises Q's spread over actions
    assert d["chi2_term"] > d_mean["chi2_term"]


def test_state_only_expert_term_is_explicit_sum_over_actions():
    torch.manual_seed(0)
    q_e, next_v = torch.randn(5, 4) * 3, torch.randn(5)
    done = torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0])
    alpha, gamma = 0.3, 0.9
    _, d = iq.iq_loss(
        q_e,
        next_v,
        done,
        torch.randn(3, 4),
        torch.tensor([0, 1, 3]),
        torch.randn(3),
        torch.zeros(3),
        variant="state-only",
        alpha=alpha,
        gamma=gamma,
    )
    # explicit loop: sum over actions of pi(a|s) (Q(s, a) - gamma (1-d) V(s'))
    total = 0.0
    for i in range(5):
        pi = torch.softmax(q_e[i] / alpha, dim=0)
        y = gamma * (1 - done[i]) * next_v[i]
        total += sum(float(pi[a] * (q_e[i, a] - y)) for a in range(4))
    assert d["reward_expert"] == pytest.approx(total / 5, abs=1e-5)
    # and the closed form V - alpha H
    v_minus_h = iq.soft_value(q_e, alpha) - alpha * iq.policy_entropy(q_e, alpha)
    assert d["reward_expert"] == pytest.approx(
        float((v_minus_h - gamma * (1 - done) * next_v).mean()), abs=1e-5
    )


def test_state_only_gradient_through_policy():
    # Detached pi: d/dQ of -(1/B) sum_a pi Q is -pi/B. With gradient through pi, the
    # expert term's gradient is -(pi + pi (Q - E_pi Q)/alpha)/B.
    q = Q_E.clone().requires_grad_(True)
    kw = dict(variant="state-only", chi2_alpha=1e9)  # chi2 off (1/(4 * 1e9) ~ 0)
    pi = torch.softmax(Q_E, dim=1)  # alpha = 1
    value_grad = 0.5 * pi / 2  # the value term adds d/dQ of 1/2 mean_E V(s) = pi / (2 B)
    for detach in (True, False):
        q.grad = None
        loss, _ = loss_of(q_e=q, detach_policy=detach, **kw)
        loss.backward()
        expected = -pi / 2 if detach else -(pi + pi * (Q_E - (pi * Q_E).sum(1, keepdim=True))) / 2
        assert torch.allclose(q.grad, expected + value_grad, atol=1e-6)


def test_idm_hard_soft_and_actions_agree():
    hard = torch.tensor([1, 0])
    loss_actions, _ = loss_of(variant="actions", expert_action=hard)
    loss_idm, _ = loss_of(variant="idm", expert_action=hard)
    loss_onehot, _ = loss_of(variant="idm", expert_action=torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    assert float(loss_idm) == pytest.approx(float(loss_actions))
    assert float(loss_onehot) == pytest.approx(float(loss_actions))
    # soft labels [[1/2, 1/2], [1, 0]]: r_E = [(0 + log3)/2 - 1, log 2] = [-0.450694, 0.693147]
    # chi2 = 1/2 ((1/2 (0-1)^2 + 1/2 (log3-1)^2 + log2^2)/2 + 4.504862) = 2.498760
    # loss = -(-0.450694 + 0.693147)/2 + 2.498760 - 0.036992 = 2.340541
    loss_soft, _ = loss_of(variant="idm", expert_action=torch.tensor([[0.5, 0.5], [1.0, 0.0]]))
    assert float(loss_soft) == pytest.approx(2.340541, abs=1e-5)


def test_done_masks_next_value():
    # expert sample 2 and agent sample 1 are terminal: their V(s') must not matter
    done_a = torch.tensor([1.0, 0.0])
    base, _ = loss_of(variant="state-only", done_a=done_a)
    moved, _ = loss_of(
        variant="state-only",
        done_a=done_a,
        next_v_e=torch.tensor([2.0, -100.0]),
        next_v_a=torch.tensor([55.0, 6.0]),
    )
    assert float(moved) == pytest.approx(float(base))
    # ...while a non-terminal next value does matter
    changed, _ = loss_of(variant="state-only", done_a=done_a, next_v_a=torch.tensor([2.0, 7.0]))
    assert float(changed) != pytest.approx(float(base))


def test_agent_chi2_weight_scales_only_the_agent_half():
    _, d1 = loss_of(variant="actions", expert_action=torch.tensor([1, 0]))
    _, d3 = loss_of(variant="actions", expert_action=torch.tensor([1, 0]), agent_chi2_weight=3.0)
    # agent half = 1/2 * mean(r_A^2) = 2.252431; tripled adds 2 * 2.252431
    assert d3["chi2_term"] - d1["chi2_term"] == pytest.approx(2 * 2.252431, abs=1e-5)


@pytest.mark.parametrize("variant", ["actions", "idm", "state-only"])
def test_gradients_finite_for_extreme_q(variant):
    q_e = torch.tensor([[1e4, -1e4, 0.0], [3e3, 3e3, 3e3]], requires_grad=True)
    q_a = torch.tensor([[-5e3, 2e3, 1.0]], requires_grad=True)
    loss, d = iq.iq_loss(
        q_e,
        torch.tensor([1e4, -1e4]),
        torch.tensor([0.0, 1.0]),
        q_a,
        torch.tensor([2]),
        torch.tensor([5e3]),
        torch.tensor([0.0]),
        variant=variant,
        alpha=0.01,
        gamma=0.99,
        detach_policy=False,
        expert_action=None if variant == "state-only" else torch.tensor([0, 2]),
    )
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(q_e.grad).all() and torch.isfinite(q_a.grad).all()
    assert all(math.isfinite(v) for v in d.values())


def test_errors_are_explicit():
    with pytest.raises(ValueError, match="needs expert_action"):
        loss_of(variant="actions")
    with pytest.raises(ValueError, match="unknown IQ variant"):
        loss_of(variant="bogus")
    with pytest.raises(ValueError, match="soft action labels"):
        loss_of(variant="idm", expert_action=torch.ones(2, 3) / 3)


def test_state_only_expert_samples_do_not_say_which_action():
    # Permuting Q(s, .) over actions at expert states leaves V(s), H(pi(.|s)), E_pi[Q] and
    # E_pi[(Q - y)^2] unchanged: in the state-only form the expert data cannot tell which
    # action reaches s'. Only the agent's own transitions (chi^2 on agent samples) can.
    q_perm = Q_E[:, [1, 0]]  # swap the two actions at both expert states
    base, _ = loss_of(variant="state-only")
    perm, _ = loss_of(q_e=q_perm, variant="state-only")
    assert float(perm) == pytest.approx(float(base), abs=1e-6)
    # with actions (oracle or IDM labels) the same swap changes the loss
    act = torch.tensor([1, 0])
    assert float(loss_of(q_e=q_perm, variant="actions", expert_action=act)[0]) != pytest.approx(
        float(loss_of(variant="actions", expert_action=act)[0]), abs=1e-3
    )


def test_value_gradient_penalty_by_hand():
    """V = alpha * logsumexp(Wx / alpha): grad = sum_a pi_a w_a; penalty = (|grad| - 1)^2."""
    one_action = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        one_action.weight.copy_(torch.tensor([[3.0, 4.0]]))
    points = torch.tensor([[0.0, 0.0], [1.0, -2.0]])
    assert iq.value_gradient_penalty(one_action, points, alpha=0.1).item() == pytest.approx(16.0)

    two_actions = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        two_actions.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 2.0]]))
    # at x = 0 both actions tie: pi = (1/2, 1/2), grad V = (1, 1), |grad| = sqrt 2
    penalty = iq.value_gradient_penalty(two_actions, torch.zeros(1, 2), alpha=0.5)
    assert penalty.item() == pytest.approx((2**0.5 - 1) ** 2, rel=1e-6)
    penalty.backward()  # differentiable in the network's weights
    assert two_actions.weight.grad is not None and two_actions.weight.grad.abs().sum() > 0


def test_interpolate_pairs_rows_and_mixes():
    expert = torch.tensor([[1.0, 1.0], [2.0, 2.0], [9.0, 9.0]])
    agent = torch.tensor([[0.0, 0.0], [0.0, 4.0]])
    out = iq.interpolate(expert, agent, torch.tensor([0.25, 1.0, 0.5]))
    assert torch.allclose(out, torch.tensor([[0.25, 0.25], [2.0, 2.0]]))


def test_label_cross_entropy_by_hand():
    # alpha = 1, Q row [0, log 3]: V = log 4, pi = [1/4, 3/4]
    q = torch.tensor([[0.0, L3], [0.0, L3]])
    # labels 0 and 1: -log(1/4) and -log(3/4), averaged
    hard = iq.label_cross_entropy(q, torch.tensor([0, 1]), alpha=1.0)
    assert float(hard) == pytest.approx((math.log(4) + math.log(4 / 3)) / 2)
    # a soft label [1/2, 1/2] on both rows gives the same mean
    soft = iq.label_cross_entropy(q, torch.full((2, 2), 0.5), alpha=1.0)
    assert float(soft) == pytest.approx(float(hard))
    # scaled by alpha: alpha * CE(softmax(Q / alpha)); at alpha = 0.5 the policy is
    # softmax([0, 2 log 3]) = [1/10, 9/10] and the term 0.5 * -log(9/10) for label 1
    one = iq.label_cross_entropy(q[:1], torch.tensor([1]), alpha=0.5)
    assert float(one) == pytest.approx(0.5 * math.log(10 / 9))
    # its gradient in Q is (pi - label) / B whatever the temperature
    q_var = q[:1].clone().requires_grad_(True)
    iq.label_cross_entropy(q_var, torch.tensor([1]), alpha=0.5).backward()
    assert torch.allclose(q_var.grad, torch.tensor([[0.1, -0.1]]))


def test_absorbing_state_by_hand():
    # expert sample 2 and agent sample 1 are terminal; V(s_abs) = 2, gamma = 0.5:
    # both terminal targets become gamma * V(s_abs) = 1 -> y_E = [1, 1], y_A = [1, 3]
    # r_abs = V - gamma V = 1; each half gains one absorbing sample (a mean over 3)
    # expert actions [1, 0]: r_E = [log3 - 1, log2 - 1] = [0.098612, -0.306853]
    # expert term = -(0.098612 - 0.306853 + 1) / 3 = -0.263920
    # chi2 = 1/2 ((0.009724 + 0.094159 + 1) / 3 + (0.009724 + 9 + 1) / 3) = 1.852268
    # value = 1/2 ((2 (log4 - 1) + 1) / 3 + (log4 - 1 + log2 - 3 + 1) / 3) = 0.142005
    v_abs = torch.tensor(2.0, requires_grad=True)
    loss, d = loss_of(variant="actions", expert_action=torch.tensor([1, 0]),
                      done_a=torch.tensor([1.0, 0.0]), absorbing_value=v_abs)
    assert d["expert_term"] == pytest.approx(-0.263920, abs=1e-5)
    assert d["chi2_term"] == pytest.approx(1.852268, abs=1e-5)
    assert d["value_term"] == pytest.approx(0.142005, abs=1e-5)
    assert float(loss.detach()) == pytest.approx(1.730353, abs=1e-5)
    assert d["v_absorbing"] == 2.0
    # d/dV: expert -1/3, chi2 1/2 (2/3 + 2/3), value 1/2 (1/3 + 1/3) -> 2/3
    (grad,) = torch.autograd.grad(loss, v_abs)
    assert float(grad) == pytest.approx(2 / 3, abs=1e-6)


def test_absorbing_state_without_terminals_is_the_plain_loss():
    kw = dict(variant="actions", expert_action=torch.tensor([1, 0]),
              done_e=torch.tensor([0.0, 0.0]))
    plain, _ = loss_of(**kw)
    absorbing, _ = loss_of(**kw, absorbing_value=torch.tensor(-7.0, requires_grad=True))
    assert float(absorbing) == pytest.approx(float(plain), abs=1e-6)


def test_absorbing_state_reached_by_the_agent_only_settles_below_play():
    # only the agent terminates: the loss is stationary in V(s_abs) where its reward per
    # step is -2 alpha_chi (chi2_alpha 0.25, gamma 0.5 -> V = -0.5 / 0.5 = -1)
    def grad_at(value: float) -> float:
        v_abs = torch.tensor(value, requires_grad=True)
        loss, _ = loss_of(variant="actions", expert_action=torch.tensor([1, 0]),
                          done_e=torch.tensor([0.0, 0.0]), done_a=torch.tensor([1.0, 1.0]),
                          absorbing_value=v_abs)
        return float(torch.autograd.grad(loss, v_abs)[0])

    assert grad_at(-1.0) == pytest.approx(0.0, abs=1e-6)
    assert grad_at(0.0) > 0 > grad_at(-2.0)  # gradient descent moves it to -1 from both sides
