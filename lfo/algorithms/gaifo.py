"""GAIfO: generative adversarial imitation from observation (Torabi, Warnell and Stone 2018,
https://arxiv.org/abs/1807.06158), with an off-policy soft-Q learner.

A discriminator ``D(s, s') = sigmoid(f(s, s'))`` (an MLP ``f`` over the concatenated
features) is trained to tell expert pairs (label 1) from the agent's own transitions
(label 0) by binary cross-entropy, plus a zero-centred gradient penalty on expert inputs
(R1, Mescheder et al. 2018):

    L_D = E_expert[-log D] + E_agent[-log(1 - D)] + gp_weight * E_expert[||grad_x f(x)||^2]

with ``x = [s, s']``. The reward of an agent transition is the discriminator's logit

    r(s, s') = log D(s, s') - log(1 - D(s, s')) = f(s, s'),

clipped to ``[-reward_clip, reward_clip]``. At the optimal discriminator
``f = log rho_E(s, s') / rho_pi(s, s')``, so maximising its expected sum drives the
agent's state-transition occupancy towards the expert's (a reverse-KL objective); it is
positive where expert-like and negative elsewhere, so it neither encourages nor
discourages ending an episode by itself (unlike -log(1 - D) or log D alone).

The policy is a :class:`lfo.algorithms.agent.SoftQAgent` (its Q head, target network, optimiser and
soft value) trained off-policy on the agent's replay with the soft Bellman error
(:func:`soft_q_td_loss`), rewards recomputed by the current discriminator at every
update (as in off-policy adversarial imitation, Kostrikov et al. 2019). Only (s, s')
pairs enter the discriminator: the expert's actions are never needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lfo.algorithms import iq
from lfo.algorithms.agent import SoftQAgent, SoftQConfig, build_mlp
from lfo.algorithms.learner import Learner, LearnerSettings, apply_options, load_rng, save_rng
from lfo.data.safe_load import safe_load, safe_save
from lfo.data.transitions import Transitions


def discriminator_loss(
    logit_expert: Tensor, logit_agent: Tensor, grad_expert: Tensor, gp_weight: float
) -> tuple[Tensor, dict[str, float]]:
    """Binary cross-entropy (expert = 1, agent = 0) plus the R1 gradient penalty.

    Args:
        logit_expert: f(s, s') on expert pairs, shape (Ne,).
        logit_agent: f(s, s') on agent transitions, shape (Na,).
        grad_expert: d f / d x at the expert inputs, shape (Ne, 2D) (with a graph, so the
            penalty can be differentiated; see :func:`input_gradient`).
        gp_weight: weight of ``E_expert[||grad||^2]``.

    Returns:
        The loss and diagnostics (its parts, and D's mean output on each side).
    """
    # -log sigmoid(l) = softplus(-l); -log(1 - sigmoid(l)) = softplus(l)  (stable forms)
    bce_expert = F.softplus(-logit_expert).mean()
    bce_agent = F.softplus(logit_agent).mean()
    penalty = grad_expert.pow(2).sum(dim=1).mean()
    loss = bce_expert + bce_agent + gp_weight * penalty
    with torch.no_grad():
        diagnostics = {
            "disc_loss": float(loss),
            "disc_bce": float(bce_expert + bce_agent),
            "disc_grad_penalty": float(penalty),
            "disc_expert": float(torch.sigmoid(logit_expert).mean()),
            "disc_agent": float(torch.sigmoid(logit_agent).mean()),
        }
    return loss, diagnostics


def gaifo_reward(logit: Tensor, clip: float | None = None) -> Tensor:
    """``log D - log(1 - D)``, i.e. the logit itself, optionally clipped to ``[-clip, clip]``."""
    return logit if clip is None else logit.clamp(-clip, clip)


def soft_q_td_loss(
    q: Tensor, action: Tensor, reward: Tensor, next_v: Tensor, done: Tensor, gamma: float
) -> tuple[Tensor, dict[str, float]]:
    """Soft Bellman error ``mean (Q(s, a) - [r + gamma (1 - done) V(s')])^2``.

    ``next_v`` is the soft value ``alpha logsumexp(Q_target(s', .) / alpha)`` (computed
    by the caller, without gradient); ``done`` marks true termination only.
    """
    q_sa = q.gather(1, action.long().unsqueeze(1)).squeeze(1)
    target = (reward + iq.next_value_target(next_v, done, gamma)).detach()
    td = q_sa - target
    loss = td.pow(2).mean()
    with torch.no_grad():
        diagnostics = {"td_loss": float(loss), "q_mean": float(q_sa.mean()),
                       "td_abs": float(td.abs().mean())}
    return loss, diagnostics


class Discriminator(nn.Module):
    """``f(s, s')``: an MLP over the concatenated features, one logit per pair."""

    def __init__(self, obs_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.net = build_mlp(2 * obs_dim, 1, hidden)

    def forward(self, pairs: Tensor) -> Tensor:
        """Logits (N,) of inputs ``x = [s, s']``, shape (N, 2D)."""
        return self.net(pairs).squeeze(-1)


def input_gradient(disc: Discriminator, pairs: Tensor) -> tuple[Tensor, Tensor]:
    """The logits and ``d logit / d input`` at ``pairs``, kept differentiable (for R1)."""
    x = pairs.detach().requires_grad_(True)
    logits = disc(x)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return logits, grad


@dataclass
class GAIfOConfig:
    """Options of ``gaifo`` (``TrainConfig.method_options``)."""

    disc_hidden: tuple[int, ...] | None = None
    """Discriminator hidden sizes (default: the shared ``hidden``)."""
    disc_lr: float | None = None
    """Discriminator learning rate (default: the shared ``lr``)."""
    gp_weight: float = 1.0
    """Weight of the R1 penalty E_expert ||grad f||^2 (Mescheder et al.'s gamma / 2). Untuned
    on the games; on the one-hot chain (where ||grad f|| is a weight norm) 1.0 already
    slows learning and 0.1 is used (tests/test_baselines.py)."""
    disc_update_every: int = 1
    """Steps between discriminator updates (the Q head updates every step)."""
    reward_clip: float | None = 10.0
    """Clip of the logit reward (``None``: no clip)."""


class GAIfOLearner(Learner):
    """Discriminator on (s, s') + soft-Q on its logit reward."""

    name = "gaifo"

    def __init__(self, settings: LearnerSettings, options: dict | None = None) -> None:
        self.config = apply_options(GAIfOConfig(), options, self.name)
        s = settings
        self.settings = settings
        # the SoftQAgent supplies networks, target, optimiser and soft values; its IQ
        # ``variant`` is unused here (its IQ loss is never called)
        self.agent = SoftQAgent(SoftQConfig(
            obs_dim=s.obs_dim, n_actions=s.n_actions, hidden=tuple(s.hidden), variant="actions",
            alpha=s.alpha, gamma=s.gamma, lr=s.lr, tau=s.tau, grad_clip=s.grad_clip,
            target_update_interval=s.target_update_interval,
            double_q=s.double_q, seed=s.seed,
        ))
        hidden = self.config.disc_hidden if self.config.disc_hidden is not None else s.hidden
        self.disc = Discriminator(s.obs_dim, tuple(hidden))
        self.disc_optimizer = torch.optim.Adam(self.disc.parameters(),
                                               lr=self.config.disc_lr or s.lr)
        self._disc_logs: dict[str, float] = {}

    def act(self, features, greedy: bool = False):
        return self.agent.act(features, greedy=greedy)

    def reward(self, obs: Tensor, next_obs: Tensor) -> Tensor:
        """The (clipped) logit reward of transitions, without gradient."""
        with torch.no_grad():
            return gaifo_reward(self.disc(torch.cat([obs, next_obs], dim=1)),
                                self.config.reward_clip)

    def update(
        self, expert: Transitions, agent: Transitions | None, step: int
    ) -> dict[str, float]:
        """One discriminator step (on schedule), then one soft-Q step on the agent batch."""
        if agent is None:
            raise ValueError("gaifo learns online: it needs agent transitions")
        if step % self.config.disc_update_every == 0 or not self._disc_logs:
            logit_e, grad_e = input_gradient(self.disc, torch.cat([expert.obs, expert.next_obs], 1))
            logit_a = self.disc(torch.cat([agent.obs, agent.next_obs], dim=1))
            loss, self._disc_logs = discriminator_loss(logit_e, logit_a, grad_e,
                                                       self.config.gp_weight)
            self.disc_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.disc_optimizer.step()
        reward = self.reward(agent.obs, agent.next_obs)
        q = self.agent.q(agent.obs)
        next_v = self.agent.next_value(agent.next_obs).detach()
        loss, logs = soft_q_td_loss(q, agent.action, reward, next_v, agent.done,
                                    self.settings.gamma)
        logs.update(self.agent.apply_loss(loss))
        logs["reward_agent"] = float(reward.mean())
        return {**self._disc_logs, **logs}

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        self.agent.save(folder / "agent.pt")
        safe_save({"disc": self.disc.state_dict(),
                           "disc_optimizer": self.disc_optimizer.state_dict(),
                           "agent_rng": save_rng(self.agent.rng)}, folder / "learner.pt")

    def load(self, folder: Path) -> None:
        folder = Path(folder)
        agent = SoftQAgent.load(folder / "agent.pt")
        state = safe_load(folder / "learner.pt")
        self.disc.load_state_dict(state["disc"])
        self.disc_optimizer.load_state_dict(state["disc_optimizer"])
        load_rng(agent.rng, state["agent_rng"])
        self.agent = agent

    def expert_reward(self, obs: Tensor, next_obs: Tensor) -> np.ndarray:
        """The discriminator's logit reward along expert pairs."""
        return self.reward(obs, next_obs).numpy()
