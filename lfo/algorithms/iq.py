"""The IQ-Learn objective (chi^2 form) as pure functions on tensors.

IQ-Learn (Garg et al., 2021, https://arxiv.org/abs/2106.12142) learns a single soft
Q-function. With a fixed temperature ``alpha`` the policy is ``softmax(Q/alpha)``, the
soft value is ``V(s) = alpha * logsumexp(Q(s, .)/alpha)`` and the implicit reward of a
transition is ``r(s, a, s') = Q(s, a) - gamma * V(s')`` (``V(s') = 0`` when ``s'`` is
terminal, or a learned absorbing state's value: :func:`absorbing_terms`). The loss
minimised over Q is

    -E_expert[r] + 1/(4 alpha_chi) * E_all[r^2] + E_mix[V(s) - gamma V(s')]

where "mix" and "all" are a 50/50 mixture of the expert and agent distributions (the
value term replaces (1 - gamma) E[V(s0)]; the chi^2 term is applied to agent samples too,
which keeps online training from diverging and is what ties Q's action values to the
outcomes the agent actually observes).

Three ways to get the expert's action, behind ``variant``:

* ``"actions"``: the recorded expert actions (an oracle, for comparison only).
* ``"idm"``: the same maths, with actions labelled by an inverse dynamics model; the
  labels may be hard (long tensor of indices) or soft (a distribution ``p(a | s, s')``).
* ``"state-only"``: section 5.4 of the paper; the expert's action distribution is replaced
  by the current policy ``pi(a | s)``, exact for discrete actions. Caution: then
  ``E_pi[Q(s, a)] = V(s) - alpha H(pi(.|s))``: the linear expert term differs from the
  action form's only by ``+alpha H(pi(.|s))`` in place of ``-alpha log pi(a_E|s)``, and
  neither it nor its chi^2 part changes if Q(s, .) is permuted over actions at expert
  states. It cannot tell *which* action reaches s'; only the agent's own transitions can
  (see notes/iq_core.md: it failed on the test chain).

Every function here is pure: tensors in, ``(loss, diagnostics)`` out. The caller decides
how ``V(s')`` is computed (online network, target network, double-Q) and passes it in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

Variant = Literal["actions", "state-only", "idm"]
VARIANTS: tuple[str, ...] = ("actions", "state-only", "idm")
StateOnlyChi2 = Literal["policy", "mean"]


def soft_value(q: Tensor, alpha: float) -> Tensor:
    """Soft state value ``alpha * logsumexp(q / alpha)`` over the last (action) axis."""
    return alpha * torch.logsumexp(q / alpha, dim=-1)


def policy_log_probs(q: Tensor, alpha: float) -> Tensor:
    """Log-probabilities of the soft policy ``softmax(q / alpha)``."""
    return torch.log_softmax(q / alpha, dim=-1)


def policy_probs(q: Tensor, alpha: float) -> Tensor:
    """Probabilities of the soft policy ``softmax(q / alpha)``."""
    return torch.softmax(q / alpha, dim=-1)


def policy_entropy(q: Tensor, alpha: float) -> Tensor:
    """Entropy (nats) of ``softmax(q / alpha)``, one value per row."""
    log_p = policy_log_probs(q, alpha)
    return -(log_p.exp() * log_p).sum(dim=-1)


def next_value_target(next_v: Tensor, done: Tensor, gamma: float) -> Tensor:
    """``gamma * (1 - done) * V(s')``: a terminal next state is worth nothing.

    ``done`` must mark true termination only; a time-limit truncation is not terminal.
    """
    return gamma * (1.0 - done.to(next_v.dtype)) * next_v


def _expected_q(q: Tensor, action: Tensor) -> Tensor:
    """``Q(s, a)`` for hard labels (shape (B,), integer) or ``E_{a~p}[Q(s, a)]`` for a
    label distribution ``p`` (shape (B, A), float, rows summing to one)."""
    if action.dim() == 1:
        return q.gather(1, action.long().unsqueeze(1)).squeeze(1)
    if action.shape != q.shape:
        raise ValueError(
            f"soft action labels have shape {tuple(action.shape)}, Q has {tuple(q.shape)}"
        )
    return (action.to(q.dtype) * q).sum(dim=1)


def _expected_sq_reward(q: Tensor, action: Tensor, y: Tensor) -> Tensor:
    """``E_{a~p}[(Q(s, a) - y)^2]`` for hard (B,) or soft (B, A) labels."""
    if action.dim() == 1:
        return (_expected_q(q, action) - y) ** 2
    return (action.to(q.dtype) * (q - y.unsqueeze(1)) ** 2).sum(dim=1)


def iq_loss(
    q_expert: Tensor,
    next_v_expert: Tensor,
    done_expert: Tensor,
    q_agent: Tensor,
    action_agent: Tensor,
    next_v_agent: Tensor,
    done_agent: Tensor,
    *,
    variant: Variant,
    alpha: float,
    gamma: float,
    chi2_alpha: float = 0.5,
    expert_action: Tensor | None = None,
    agent_chi2_weight: float = 1.0,
    detach_policy: bool = True,
    state_only_chi2: StateOnlyChi2 = "policy",
    absorbing_value: Tensor | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Online chi^2 IQ-Learn loss (to minimise over Q) and its diagnostics.

    Args:
        q_expert: Q(s, .) at expert states, shape (Be, A), from the network being trained.
        next_v_expert: V(s') at the expert's next states, shape (Be,).
        done_expert: 1 where the expert's s' is terminal (not truncated), shape (Be,).
        q_agent: Q(s, .) at agent states, shape (Ba, A).
        action_agent: the agent's actions, shape (Ba,), integer.
        next_v_agent: V(s') at agent next states, shape (Ba,).
        done_agent: 1 where the agent's s' is terminal, shape (Ba,).
        variant: "actions", "idm" (both need ``expert_action``) or "state-only".
        alpha: policy temperature (fixed; learned temperatures destabilise IQ).
        gamma: discount.
        chi2_alpha: alpha_chi; the regulariser is ``r^2 / (4 alpha_chi)``.
        expert_action: expert labels, (Be,) integer or (Be, A) distribution.
        agent_chi2_weight: extra multiplier on the agent half of the chi^2 term
            (1 = the plain objective; an investigation knob).
        detach_policy: state-only: treat pi(a|s) in E_pi[Q(s, a)] as a constant.
        state_only_chi2: state-only: "policy" uses E_{a~pi}[r^2] for expert samples
            (default, see below); "mean" uses (E_{a~pi}[r])^2.
        absorbing_value: None (a terminal next state is worth 0) or V(s_abs), a scalar
            with gradient: the value of an absorbing state that every terminal transition
            enters and never leaves (see :func:`absorbing_terms`).

    Returns:
        The scalar loss and a dict of float diagnostics (implicit rewards, values,
        each term, policy entropy on expert and agent states).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown IQ variant {variant!r}; expected one of {VARIANTS}")
    if chi2_alpha <= 0:
        raise ValueError(f"chi2_alpha must be > 0, got {chi2_alpha}")

    if absorbing_value is None:
        y_expert = next_value_target(next_v_expert, done_expert, gamma)
        y_agent = next_value_target(next_v_agent, done_agent, gamma)
    else:
        y_expert = absorbing_target(next_v_expert, done_expert, absorbing_value, gamma)
        y_agent = absorbing_target(next_v_agent, done_agent, absorbing_value, gamma)

    # Expert term: E_expert[Q(s, a) - gamma V(s')] under the variant's action distribution.
    if variant == "state-only":
        # sum_a pi(a|s) Q(s, a) = V(s) - alpha H(pi(.|s)): exact for discrete actions.
        pi = policy_probs(q_expert, alpha)
        if detach_policy:
            pi = pi.detach()
        expert_action_dist = pi
    else:
        if expert_action is None:
            raise ValueError(f"variant {variant!r} needs expert_action (labels or a distribution)")
        expert_action_dist = expert_action
    r_expert = _expected_q(q_expert, expert_action_dist) - y_expert

    # chi^2 term over all samples, the two distributions weighted 50/50.
    # State-only: the expert's joint distribution is taken to be rho_E(s, s') pi(a | s),
    # the same one the linear expert term uses, so the regulariser is its expectation
    # E_{a~pi}[r(s, a, s')^2] (also what a sampled-action implementation estimates).
    # "mean" ((E_pi r)^2) would regularise a different, action-averaged reward and leave
    # the spread of Q over actions at expert states unpenalised.
    if variant == "state-only" and state_only_chi2 == "mean":
        sq_expert = r_expert**2
    elif variant == "state-only" and state_only_chi2 != "policy":
        raise ValueError(f"state_only_chi2 must be 'policy' or 'mean', got {state_only_chi2!r}")
    else:
        sq_expert = _expected_sq_reward(q_expert, expert_action_dist, y_expert)
    r_agent = _expected_q(q_agent, action_agent) - y_agent
    sq_agent = r_agent**2
    v_expert = soft_value(q_expert, alpha)
    v_agent = soft_value(q_agent, alpha)
    gap_expert, gap_agent = v_expert - y_expert, v_agent - y_agent

    # Per-sample terms, each averaged over its distribution (expert or agent); with an
    # absorbing state, each terminal transition adds one self-transition of s_abs.
    if absorbing_value is None:
        mean_e = mean_a = _plain_mean
    else:
        mean_e = absorbing_terms(absorbing_value, done_expert, gamma)
        mean_a = absorbing_terms(absorbing_value, done_agent, gamma)
    expert_term = -mean_e(r_expert, "reward")
    chi2_coef = 1.0 / (4.0 * chi2_alpha)
    chi2_term = chi2_coef * 0.5 * (mean_e(sq_expert, "square")
                                   + agent_chi2_weight * mean_a(sq_agent, "square"))
    # Value term E_mix[V(s) - gamma V(s')], replacing (1 - gamma) E[V(s0)] online.
    value_term = 0.5 * (mean_e(gap_expert, "gap") + mean_a(gap_agent, "gap"))

    loss = expert_term + chi2_term + value_term

    with torch.no_grad():
        diagnostics = {
            "loss": float(loss),
            "expert_term": float(expert_term),
            "chi2_term": float(chi2_term),
            "value_term": float(value_term),
            "reward_expert": float(r_expert.mean()),
            "reward_agent": float(r_agent.mean()),
            "v_expert": float(v_expert.mean()),
            "v_agent": float(v_agent.mean()),
            "entropy_expert": float(policy_entropy(q_expert, alpha).mean()),
            "entropy_agent": float(policy_entropy(q_agent, alpha).mean()),
        }
        if absorbing_value is not None:
            diagnostics["v_absorbing"] = float(absorbing_value)
    return loss, diagnostics


def _plain_mean(values: Tensor, kind: str) -> Tensor:
    """The batch mean (``kind`` is unused: the signature of :func:`absorbing_terms`' means)."""
    return values.mean()


def absorbing_target(next_v: Tensor, done: Tensor, absorbing_value: Tensor,
                     gamma: float) -> Tensor:
    """``gamma * V(s')``, with ``V(s') = V(s_abs)`` (no gradient) where ``s'`` is terminal."""
    done = done.to(next_v.dtype)
    return gamma * ((1.0 - done) * next_v + done * absorbing_value.detach())


def absorbing_terms(absorbing_value: Tensor, done: Tensor,
                    gamma: float) -> Callable[[Tensor, str], Tensor]:
    """The batch mean of a per-sample term, with one absorbing self-transition per terminal.

    DAC's absorbing state (Kostrikov et al., 2019, https://arxiv.org/abs/1809.02925) in
    IQ form: a terminal transition enters ``s_abs``, which loops on itself forever, so the
    distribution holds one ``(s_abs, s_abs)`` pair per terminal transition. Its value
    ``V = V(s_abs)`` is learned with Q (one action, so ``Q(s_abs) = V``): its implicit
    reward is ``r_abs = V - gamma * V`` (the second V without gradient, as a target) and
    its value gap ``V(s_abs) - gamma V(s_abs)`` is the same number.

    Why: with ``V(terminal) = 0`` and agent states worth less than zero (IQ gives the
    agent's states negative rewards), ending the episode is worth more than playing on,
    and the agent learns to lose (a lost game, a car off the map). A state that only the
    agent reaches settles where the chi^2 objective puts agent-only states: ``r_abs =
    -2 alpha_chi`` every step, ``V(s_abs) = -2 alpha_chi / (1 - gamma)``, below any
    state of play; where the expert's clips end in terminals too, it rises with them.

    Returns ``mean(values, kind)``: the mean over the batch and its absorbing samples,
    where ``kind`` names the term ("reward", "square" of the reward, value "gap").
    """
    r_abs = absorbing_value - gamma * absorbing_value.detach()
    per_kind = {"reward": r_abs, "square": r_abs**2, "gap": r_abs}
    n_abs = done.to(absorbing_value.dtype).sum()

    def mean(values: Tensor, kind: str) -> Tensor:
        return (values.sum() + n_abs * per_kind[kind]) / (len(values) + n_abs)

    return mean


def label_cross_entropy(q: Tensor, action: Tensor, alpha: float) -> Tensor:
    """``alpha * E_label[-log pi(a | s)] = E_label[V(s) - Q(s, a)]``, averaged over rows.

    A behavioural-cloning term on the soft policy ``softmax(q / alpha)``, scaled by
    ``alpha`` so that its gradient in Q is ``pi - label`` (bounded, whatever the
    temperature). ``action`` is (B,) integer labels or a (B, A) label distribution.
    Never negative; zero only where the policy puts all its mass on the label.
    """
    return (soft_value(q, alpha) - _expected_q(q, action)).mean()


def interpolate(x_expert: Tensor, x_agent: Tensor, mix: Tensor) -> Tensor:
    """Points ``mix * x_expert + (1 - mix) * x_agent`` on the segments between paired rows.

    ``mix`` is (N,) in [0, 1]; rows are paired in order (N = the smaller batch).
    """
    n = min(len(x_expert), len(x_agent), len(mix))
    m = mix[:n].to(x_expert.dtype).unsqueeze(1)
    return m * x_expert[:n] + (1.0 - m) * x_agent[:n]


def value_gradient_penalty(
    q_net: Callable[[Tensor], Tensor], points: Tensor, alpha: float
) -> Tensor:
    """Lipschitz penalty ``E[(||grad_x V(x)|| - 1)^2]`` at ``points`` (differentiable).

    ``V = alpha * logsumexp(Q / alpha)``. On frozen features the expert's and the agent's
    states are often linearly separable, and IQ then drives V up on every expert state and
    down on every agent state (a saturated discriminator, |V| -> 1 / (1 - gamma)) with no
    slope between them for the policy to climb. Keeping V 1-Lipschitz along the segments
    between expert and agent states is the WGAN-GP remedy (Gulrajani et al. 2017) applied
    to V: states closer to the expert's must be worth more.
    """
    x = points.detach().requires_grad_(True)
    v = soft_value(q_net(x), alpha)
    (grad,) = torch.autograd.grad(v.sum(), x, create_graph=True)
    return (grad.norm(dim=1) - 1.0).pow(2).mean()
