"""IQ-Learn as a :class:`~lfo.algorithms.learner.Learner`: the project's main method and its oracle.

* ``iq-idm``: expert pairs labelled by an inverse dynamics model p(a | s, s') trained on
  the agent's own transitions (optionally corrected from the agent's action frequencies
  to the expert's, ``lfo.algorithms.label_shift``), then action-based chi^2 IQ-Learn
  (``lfo.algorithms.iq``).
* ``iq-state-only``: the policy-expectation form of the IQ-Learn paper's section 5.4.
* ``oracle-iq``: action-based IQ-Learn on the recorded expert actions. ORACLE: it sees
  what the video does not show, and exists only to bound what the state-only forms
  could reach with perfect labels.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lfo.algorithms import iq
from lfo.algorithms.agent import SoftQAgent, SoftQConfig
from lfo.algorithms.idm import IDMConfig, InverseDynamicsModel, scheduled_idm_update
from lfo.algorithms.label_shift import LabelShiftConfig, LabelShiftCorrection
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
            average_decay=s.average_decay, seed=s.seed,
        ))
        self.idm = (
            InverseDynamicsModel(IDMConfig(s.obs_dim, s.n_actions, hidden=tuple(s.idm_hidden),
                                           lr=s.idm_lr, seed=s.seed))
            if variant == "idm" else None
        )
        self.label_shift = (
            LabelShiftCorrection(LabelShiftConfig(s.obs_dim, s.n_actions,
                                                  hidden=tuple(s.idm_hidden), lr=s.idm_lr,
                                                  seed=s.seed))
            if variant == "idm" and s.idm_label_shift else None
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
            if self.label_shift is not None and step % self.settings.idm_update_every == 0:
                batch = agent if self.sample_agent is None else self.sample_agent(len(agent))
                self._idm_logs.update(self.label_shift.update(batch.obs, batch.action))
            logs.update(self._idm_logs)
            labels = self.label_expert(expert.obs, expert.next_obs, learn_prior=True)
            if self.label_shift is not None:
                logs.update({f"expert_prior_{a}": float(p)
                             for a, p in enumerate(self.label_shift.prior)})
            labels = labels if self.settings.idm_soft else labels.argmax(dim=1)
            expert = dataclasses.replace(expert, action=labels.to(expert.obs.device))
        logs.update(self.agent.update(expert, agent))
        return logs

    def averaged(self) -> IQLearner | None:
        """This learner acting with the Q head's weight average (``average_decay`` > 0)."""
        if self.agent.q_average is None:
            return None
        twin = copy.copy(self)
        twin.agent = self.agent.averaged()
        return twin

    def label_expert(self, obs: Tensor, next_obs: Tensor,
                     learn_prior: bool = False) -> Tensor:
        """iq-idm: the labels p(a | s, s') the learner gives expert pairs, (N, A): the IDM's
        posterior, under the expert's estimated action frequencies when the label-shift
        correction is on (``learn_prior``: the batch also updates that estimate)."""
        if self.idm is None:
            raise ValueError(f"{self.name} labels no expert pairs (it has no IDM)")
        device = next(self.idm.parameters()).device
        obs, next_obs = obs.to(device), next_obs.to(device)
        posterior = self.idm.label(obs, next_obs, soft=True)
        if self.label_shift is None:
            return posterior
        return self.label_shift.correct(obs, posterior, learn_prior=learn_prior)

    def save(self, folder: Path) -> None:
        """``agent.pt`` (+ ``idm.pt``) and ``learner.pt`` (the sampling generator)."""
        folder = Path(folder)
        self.agent.save(folder / "agent.pt")
        if self.idm is not None:
            self.idm.save(folder / "idm.pt")
        if self.label_shift is not None:
            self.label_shift.save(folder / "label_shift.pt")
        safe_save({"agent_rng": save_rng(self.agent.rng)}, folder / "learner.pt")

    def load(self, folder: Path) -> None:
        folder = Path(folder)
        agent = SoftQAgent.load(folder / "agent.pt")
        idm = InverseDynamicsModel.load(folder / "idm.pt") if self.idm is not None else None
        shift = (LabelShiftCorrection.load(folder / "label_shift.pt")
                 if self.label_shift is not None else None)
        extra = folder / "learner.pt"
        if extra.is_file():  # checkpoints from before the learner interface lack it
            load_rng(agent.rng, safe_load(extra)["agent_rng"])
        self.agent, self.idm, self.label_shift = agent, idm, shift

    @torch.no_grad()
    def expert_reward(self, obs: Tensor, next_obs: Tensor) -> np.ndarray:
        """Implicit reward E_a[Q(s, a)] - gamma V(s') (a from the IDM, or from pi)."""
        alpha, gamma = self.agent.config.alpha, self.agent.config.gamma
        q = self.agent.q(obs)
        v_next = iq.soft_value(self.agent.q(next_obs), alpha)
        weights = (self.label_expert(obs, next_obs) if self.idm is not None
                   else iq.policy_probs(q, alpha))
        return ((weights * q).sum(dim=1) - gamma * v_next).numpy()
