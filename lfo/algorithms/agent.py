"""A soft-Q agent on feature vectors, trained with the IQ-Learn loss (``lfo.algorithms.iq``).

The agent owns an MLP Q head, a Polyak-averaged target copy and an Adam optimiser. It
knows nothing about frames: an encoder elsewhere turns observations into float features.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from lfo.algorithms import iq
from lfo.algorithms.learner import move_optimizer_state
from lfo.data.safe_load import safe_load, safe_save
from lfo.data.transitions import Transitions


@dataclass
class SoftQConfig:
    """Hyper-parameters of :class:`SoftQAgent` (saved with every checkpoint)."""

    obs_dim: int
    """Length of the feature vector."""
    n_actions: int
    """Number of discrete actions."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of the Q MLP; () gives a linear Q (a table on one-hot states)."""
    variant: str = "idm"
    """IQ expert term: "actions" (oracle), "idm" (inverse-dynamics labels) or "state-only"."""
    alpha: float = 0.01
    """Fixed policy temperature: pi = softmax(Q / alpha)."""
    gamma: float = 0.99
    """Discount."""
    chi2_alpha: float = 0.5
    """alpha_chi of the chi^2 regulariser r^2 / (4 alpha_chi)."""
    agent_chi2_weight: float = 1.0
    """Multiplier on the agent half of the chi^2 term (1 = the plain objective)."""
    detach_policy: bool = True
    """State-only: no gradient through pi in E_pi[Q(s, a)]."""
    state_only_chi2: str = "policy"
    """State-only: chi^2 on expert samples as E_pi[r^2] ("policy") or (E_pi r)^2 ("mean")."""
    lr: float = 3e-4
    """Adam learning rate."""
    tau: float = 0.005
    """Polyak rate of the target network (1 = hard copy every update)."""
    target_update_interval: int = 1
    """Updates between target-network refreshes: 1 = Polyak with ``tau`` after every
    update; N > 1 = a hard copy every N updates (IQ-Learn's and DQN's Atari scheme;
    ``tau`` is then unused)."""
    use_target: bool = True
    """Compute V(s') with the target network (no gradient); else with the online one."""
    double_q: bool = False
    """V(s') = E_{pi_online}[Q_target - alpha log pi_online]: online policy, target values."""
    zero_init_output: bool = True
    """Zero the Q head's last layer so the first policy is uniform (full exploration)."""
    grad_clip: float = 10.0
    """Max global gradient norm (<= 0 disables clipping)."""
    grad_penalty: float = 0.0
    """Weight of the 1-Lipschitz penalty on V between expert and agent states
    (:func:`lfo.algorithms.iq.value_gradient_penalty`); 0 disables it."""
    bc_weight: float = 0.0
    """Weight of a cloning term on the expert batch's action labels
    (:func:`lfo.algorithms.iq.label_cross_entropy`; the IDM's labels for ``idm``);
    0 disables it. Needs labels: not with ``state-only``."""
    absorbing: bool = False
    """Terminal transitions enter a learned absorbing state (DAC's) instead of a state
    worth 0 (:func:`lfo.algorithms.iq.absorbing_terms`): IQ gives the agent's states
    negative rewards, and with V(terminal) = 0 ending an episode early looks good."""
    average_decay: float = 0.0
    """Keep an exponential moving average of the Q head's weights (Polyak averaging of the
    iterates; weight 1 - decay on each update's new weights) for :meth:`SoftQAgent.averaged`;
    0: none."""
    seed: int | None = None
    """Seeds the network initialisation and action sampling."""


def build_mlp(in_dim: int, out_dim: int, hidden: tuple[int, ...]) -> nn.Sequential:
    """A ReLU MLP ``in_dim -> hidden... -> out_dim``."""
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [nn.Linear(last, width), nn.ReLU()]
        last = width
    layers.append(nn.Linear(last, out_dim))
    return nn.Sequential(*layers)


class SoftQAgent:
    """Soft-Q agent trained by IQ-Learn; acts with softmax(Q / alpha) or argmax Q."""

    def __init__(self, config: SoftQConfig, device: torch.device | str = "cpu") -> None:
        if config.variant not in iq.VARIANTS:
            raise ValueError(f"unknown variant {config.variant!r}; expected one of {iq.VARIANTS}")
        if config.bc_weight < 0:
            raise ValueError(f"bc_weight must be >= 0, got {config.bc_weight}")
        if config.bc_weight > 0 and config.variant == "state-only":
            raise ValueError("bc_weight needs expert action labels; the state-only variant "
                             "has none (use variant 'idm')")
        self.config = config
        self.device = torch.device(device)
        if config.seed is not None:
            torch.manual_seed(config.seed)
        self.q = build_mlp(config.obs_dim, config.n_actions, tuple(config.hidden)).to(self.device)
        if config.zero_init_output:
            # with a small alpha even a random init's tiny Q differences make a peaked,
            # arbitrary first policy that may never explore where the expert went
            nn.init.zeros_(self.q[-1].weight)
            nn.init.zeros_(self.q[-1].bias)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        # the absorbing state's value, learned as its reward per step (V = r / (1 - gamma)):
        # in these units Adam moves it as fast as any Q weight moves a reward
        self.absorbing = nn.ParameterDict(
            {"reward": nn.Parameter(torch.zeros((), device=self.device))})
        params = list(self.q.parameters()) + (list(self.absorbing.parameters())
                                              if config.absorbing else [])
        self.optimizer = torch.optim.Adam(params, lr=config.lr)
        if not 0.0 <= config.average_decay < 1.0:
            raise ValueError(f"average_decay must be in [0, 1), got {config.average_decay}")
        self.q_average = (copy.deepcopy(self.q).requires_grad_(False)
                          if config.average_decay > 0 else None)
        self.rng = np.random.default_rng(config.seed)
        self.updates = 0

    def move_to(self, device: torch.device | str) -> None:
        """Move the Q head, its target and the optimiser's state to ``device``."""
        self.device = torch.device(device)
        self.q.to(self.device)
        self.q_target.to(self.device)
        if self.q_average is not None:
            self.q_average.to(self.device)
        self.absorbing.to(self.device)
        move_optimizer_state(self.optimizer, self.device)

    # ---- acting -----------------------------------------------------------------
    @torch.no_grad()
    def q_values(self, features: np.ndarray | Tensor) -> Tensor:
        """Q(s, .) for a (D,) or (N, D) feature array; returns (N, A) on the CPU."""
        x = torch.as_tensor(np.asarray(features) if not isinstance(features, Tensor) else features)
        x = x.to(self.device, torch.float32)
        if x.dim() == 1:
            x = x.unsqueeze(0)
        return self.q(x).cpu()

    def act(self, features: np.ndarray | Tensor, greedy: bool = False) -> int | np.ndarray:
        """Action(s) for a (D,) feature vector (returns int) or a (N, D) batch (returns array).

        Sampled actions come from softmax(Q / alpha); greedy ones from argmax Q.
        """
        single = (features.dim() if isinstance(features, Tensor) else np.ndim(features)) == 1
        q = self.q_values(features).double()
        if greedy:
            actions = q.argmax(dim=1).numpy()
        else:
            probs = iq.policy_probs(q, self.config.alpha).numpy()
            # inverse-CDF sampling with our own generator (reproducible given the seed)
            u = self.rng.random((probs.shape[0], 1))
            actions = np.minimum((probs.cumsum(axis=1) < u).sum(axis=1), probs.shape[1] - 1)
        return int(actions[0]) if single else actions.astype(np.int64)

    # ---- learning ---------------------------------------------------------------
    def _next_value(self, next_obs: Tensor) -> Tensor:
        """V(s') per the config: online (with gradient), target, or double-Q target."""
        cfg = self.config
        if not cfg.use_target:
            return iq.soft_value(self.q(next_obs), cfg.alpha)
        with torch.no_grad():
            q_t = self.q_target(next_obs)
            if not cfg.double_q:
                return iq.soft_value(q_t, cfg.alpha)
            # soft double-Q: the online policy picks, the target evaluates
            log_pi = iq.policy_log_probs(self.q(next_obs), cfg.alpha)
            return (log_pi.exp() * (q_t - cfg.alpha * log_pi)).sum(dim=1)

    def loss(self, expert: Transitions, agent: Transitions) -> tuple[Tensor, dict[str, float]]:
        """The IQ loss on one expert batch and one agent batch (no optimiser step)."""
        cfg = self.config
        if agent.action is None:
            raise ValueError("agent transitions need actions")
        if cfg.variant != "state-only" and expert.action is None:
            raise ValueError(
                f"variant {cfg.variant!r} needs expert actions: label the expert batch "
                "(e.g. with lfo.algorithms.idm.InverseDynamicsModel.label) "
                "or use variant='state-only'"
            )
        expert, agent = expert.to(self.device), agent.to(self.device)
        # one forward pass for both batches (shared batch-norm-free MLP, so equivalent)
        n_e = len(expert)
        q_all = self.q(torch.cat([expert.obs, agent.obs]))
        next_v = self._next_value(torch.cat([expert.next_obs, agent.next_obs]))
        loss, diagnostics = iq.iq_loss(
            q_all[:n_e],
            next_v[:n_e],
            expert.done,
            q_all[n_e:],
            agent.action,
            next_v[n_e:],
            agent.done,
            variant=cfg.variant,  # type: ignore[arg-type]
            alpha=cfg.alpha,
            gamma=cfg.gamma,
            chi2_alpha=cfg.chi2_alpha,
            expert_action=None if cfg.variant == "state-only" else expert.action,
            agent_chi2_weight=cfg.agent_chi2_weight,
            detach_policy=cfg.detach_policy,
            state_only_chi2=cfg.state_only_chi2,  # type: ignore[arg-type]
            absorbing_value=self.absorbing_value() if cfg.absorbing else None,
        )
        if cfg.grad_penalty > 0:
            mix = torch.from_numpy(self.rng.random(min(n_e, len(agent)))).to(self.device)
            points = iq.interpolate(expert.obs, agent.obs, mix)
            penalty = iq.value_gradient_penalty(self.q, points, cfg.alpha)
            loss = loss + cfg.grad_penalty * penalty
            diagnostics["grad_penalty"] = float(penalty.detach())
            diagnostics["loss"] = float(loss.detach())
        if cfg.bc_weight > 0:
            cloning = iq.label_cross_entropy(q_all[:n_e], expert.action, cfg.alpha)
            loss = loss + cfg.bc_weight * cloning
            diagnostics["bc_term"] = float(cloning.detach())
            diagnostics["loss"] = float(loss.detach())
        return loss, diagnostics

    def absorbing_value(self) -> Tensor:
        """V(s_abs) (with gradient): the learned reward per step over 1 - gamma."""
        return self.absorbing_reward / (1.0 - self.config.gamma)

    @property
    def absorbing_reward(self) -> nn.Parameter:
        """The absorbing state's learned reward per step (0 and fixed unless enabled)."""
        return self.absorbing["reward"]

    def update(self, expert: Transitions, agent: Transitions) -> dict[str, float]:
        """One gradient step on the IQ loss, then a Polyak target update; returns diagnostics."""
        loss, diagnostics = self.loss(expert, agent)
        diagnostics.update(self.apply_loss(loss))
        return diagnostics

    def next_value(self, next_obs: Tensor) -> Tensor:
        """Soft V(s') as the IQ loss uses it (target network and double-Q per the config)."""
        return self._next_value(next_obs)

    def apply_loss(self, loss: Tensor) -> dict[str, float]:
        """One optimiser step of the Q head on any scalar ``loss`` (clipped), then Polyak.

        Shared by the IQ update and the soft-Q baselines (``lfo.algorithms.methods``).
        """
        diagnostics: dict[str, float] = {}
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            params = [p for group in self.optimizer.param_groups for p in group["params"]]
            norm = nn.utils.clip_grad_norm_(params, self.config.grad_clip)
            diagnostics["grad_norm"] = float(norm)
        self.optimizer.step()
        self._polyak()
        if self.q_average is not None:
            with torch.no_grad():
                for p, p_avg in zip(self.q.parameters(), self.q_average.parameters(),
                                    strict=True):
                    p_avg.lerp_(p, 1.0 - self.config.average_decay)
        self.updates += 1
        return diagnostics

    def averaged(self) -> SoftQAgent:
        """A copy that acts with the averaged Q head (``average_decay`` > 0), for
        evaluation: its sampling generator is its own, so using it leaves this agent's
        draws as they were."""
        if self.q_average is None:
            raise ValueError("this agent keeps no average (average_decay is 0)")
        twin = copy.copy(self)
        twin.q = copy.deepcopy(self.q_average)
        twin.rng = copy.deepcopy(self.rng)
        return twin

    @torch.no_grad()
    def _polyak(self) -> None:
        """Refresh the target network: Polyak every update, or a hard copy every
        ``target_update_interval`` updates."""
        interval = self.config.target_update_interval
        if interval > 1:
            if (self.updates + 1) % interval == 0:
                self.q_target.load_state_dict(self.q.state_dict())
            return
        tau = self.config.tau
        for p, p_t in zip(self.q.parameters(), self.q_target.parameters(), strict=True):
            p_t.lerp_(p, tau)

    # ---- persistence ------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write config, networks and optimiser state to ``path`` atomically."""
        safe_save(
            {
                "config": dataclasses.asdict(self.config),
                "q": self.q.state_dict(),
                "q_target": self.q_target.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "updates": self.updates,
                "absorbing_reward": self.absorbing_reward.detach().cpu(),
                **({"q_average": self.q_average.state_dict()}
                   if self.q_average is not None else {}),
            },
            path,
        )

    @classmethod
    def load(cls, path: str | os.PathLike, device: torch.device | str = "cpu") -> SoftQAgent:
        """Rebuild an agent saved by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no agent checkpoint at {path}")
        state = safe_load(path, map_location=device)
        cfg = dict(state["config"])
        cfg["hidden"] = tuple(cfg["hidden"])
        agent = cls(SoftQConfig(**cfg), device=device)
        agent.q.load_state_dict(state["q"])
        agent.q_target.load_state_dict(state["q_target"])
        agent.optimizer.load_state_dict(state["optimizer"])
        agent.updates = int(state["updates"])
        if "absorbing_reward" in state:  # checkpoints from before the absorbing state lack it
            agent.absorbing_reward.data.copy_(state["absorbing_reward"])
        if agent.q_average is not None:
            agent.q_average.load_state_dict(state["q_average"])
        return agent


__all__ = ["SoftQAgent", "SoftQConfig", "Transitions", "build_mlp"]
