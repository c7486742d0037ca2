"""IQ-Learn as a :class:`~lfo.algorithms.learner.Learner`: the project's main method and its oracle.

* ``iq-idm``: expert pairs labelled by an inverse dynamics model p(a | s, s') trained on
  the agent's own transitions, then action-based chi^2 IQ-Learn (``lfo.algorithms.iq``).
* ``iq-state-only``: the policy-expectation form of the IQ-Learn paper's section 5.4.
* ``oracle-iq``: action-based IQ-Learn on the recorded expert actions. ORACLE: it sees
  what the video does not show, and exists only to bound what the state-only forms
  could reach with perfect labels.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lfo.algorithms import iq
from lfo.algorithms.agent import SoftQAgent, SoftQConfig
from lfo.algorithms.idm import IDMConfig, InverseDynamicsModel, scheduled_idm_update
from lfo.algorithms.learner import (
    AgentSampler,
    Learner,
    LearnerSettings,
    load_rng,
    save_rng,
)
from lfo.data.safe_load import safe_load, safe_save
from lfo.data.transitions import Transitions

#: method name -> IQ variant (lfo.algorithms.iq.VARIANTS)
IQ_METHODS = {"iq-idm": "idm", "iq-state-only": "state-only", "oracle-iq": "actions"}


class IQLearner(Learner):
    """A :class:`~lfo.algorithms.agent.SoftQAgent` trained by IQ-Learn, plus an IDM for ``idm``."""

    def __init__(
        self,
        settings: LearnerSettings,
        variant: str,
        sample_agent: AgentSampler | None = None,
        agent_config: SoftQConfig | None = None,
    ) -> None:
        """``agent_config`` (optional) sets every SoftQAgent knob directly (the chain test
        bed's investigation settings); by default it is built from ``settings``."""
        if variant not in iq.VARIANTS:
            raise ValueError(f"unknown IQ variant {variant!r}; expected one of {iq.VARIANTS}")
        if agent_config is not None and agent_config.variant != variant:
            raise ValueError(f"agent_config.variant {agent_config.variant!r} != {variant!r}")
        self.settings, self.variant, self.sample_agent = settings, variant, sample_agent
        self.name = {v: k for k, v in IQ_METHODS.items()}[variant]
        self.uses_expert_actions = variant == "actions"
        s = settings
        if s.bc_weight > 0 and variant == "state-only":
            warnings.warn("iq-state-only has no action labels: bc_weight is ignored",
                          stacklevel=2)
        self.agent = SoftQAgent(agent_config or SoftQConfig(
            obs_dim=s.obs_dim, n_actions=s.n_actions, hidden=tuple(s.hidden), variant=variant,
            alpha=s.alpha, gamma=s.gamma, chi2_alpha=s.chi2_alpha, lr=s.lr, tau=s.tau,
            target_update_interval=s.target_update_interval,
            grad_clip=s.grad_clip, double_q=s.double_q, grad_penalty=s.grad_penalty,
            bc_weight=s.bc_weight if variant != "state-only" else 0.0, absorbing=bool(s.absorbing),
            seed=s.seed,
        ))
        self.idm = (
            InverseDynamicsModel(IDMConfig(s.obs_dim, s.n_actions, hidden=tuple(s.idm_hidden),
                                           lr=s.idm_lr, seed=s.seed))
            if variant == "idm" else None
        )
        self._idm_logs: dict[str, float] = {}

    def act(self, features, greedy: bool = False):
        return self.agent.act(features, greedy=greedy)

    def update(
        self, expert: Transitions, agent: Transitions | None, step: int
    ) -> dict[str, float]:
        """One IDM step (``idm``, every ``idm_update_every`` steps) and one IQ step."""
        if agent is None:
            raise ValueError(f"{self.name} learns online: it needs agent transitions")
        logs: dict[str, float] = {}
        if self.idm is not None:
            self._idm_logs = scheduled_idm_update(
                self.idm, step, self.settings.idm_update_every, agent, self.sample_agent,
                self._idm_logs)
            logs.update(self._idm_logs)
            expert = self.idm.label_batch(expert, soft=self.settings.idm_soft)
        logs.update(self.agent.update(expert, agent))
        return logs

    def save(self, folder: Path) -> None:
        """``agent.pt`` (+ ``idm.pt``) and ``learner.pt`` (the sampling generator)."""
        folder = Path(folder)
        self.agent.save(folder / "agent.pt")
        if self.idm is not None:
            self.idm.save(folder / "idm.pt")
        safe_save({"agent_rng": save_rng(self.agent.rng)}, folder / "learner.pt")

    def load(self, folder: Path) -> None:
        folder = Path(folder)
        agent = SoftQAgent.load(folder / "agent.pt")
        idm = InverseDynamicsModel.load(folder / "idm.pt") if self.idm is not None else None
        extra = folder / "learner.pt"
        if extra.is_file():  # checkpoints from before the learner interface lack it
            load_rng(agent.rng, safe_load(extra)["agent_rng"])
        self.agent, self.idm = agent, idm

    @torch.no_grad()
    def expert_reward(self, obs: Tensor, next_obs: Tensor) -> np.ndarray:
        """Implicit reward E_a[Q(s, a)] - gamma V(s') (a from the IDM, or from pi)."""
        alpha, gamma = self.agent.config.alpha, self.agent.config.gamma
        q = self.agent.q(obs)
        v_next = iq.soft_value(self.agent.q(next_obs), alpha)
        weights = self.idm.label(obs, next_obs) if self.idm is not None else iq.policy_probs(
            q, alpha)
        return ((weights * q).sum(dim=1) - gamma * v_next).numpy()
