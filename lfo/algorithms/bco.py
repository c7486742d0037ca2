"""BCO(alpha): behavioural cloning from observation (Torabi, Warnell and Stone, IJCAI 2018,
https://arxiv.org/abs/1805.01954).

The paper's recipe: play I_pre steps with a random policy, fit an inverse dynamics model
p(a | s, s') on them, label every expert pair with the model's most likely action, fit a
policy to those labels by behavioural cloning; then, for BCO(alpha), repeatedly play
alpha * I_pre more steps *with the cloned policy*, refit the model on all the agent's data
(now closer to the expert's states), relabel, refit the policy.

Here the same recipe runs inside the shared online loop (:class:`lfo.loop.trainer.Trainer` or
:func:`lfo.testing.chain.train_learner_on_chain`), in small steps instead of phases:

* ``learning_starts`` random steps are I_pre;
* after that, every env step is taken by the cloned policy (sampled), goes into the
  replay, and is followed by one IDM step on agent replay (every ``idm_update_every``
  steps, the same schedule as IQ-idm) and one BC step on a fresh expert batch labelled
  by the current IDM. "Refit, relabel, refit" thus happens continuously.
* The env-step budget ``steps`` covers both phases, so BCO(alpha) with
  alpha = (steps - learning_starts) / learning_starts; BCO(0) is not run (it would spend
  the budget on random play only).

Only agent transitions carry actions; the expert pairs never do (no oracle here).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from lfo.algorithms.bc import BCPolicy
from lfo.algorithms.idm import IDMConfig, InverseDynamicsModel, scheduled_idm_update
from lfo.algorithms.learner import AgentSampler, Learner, LearnerSettings, apply_options
from lfo.data.safe_load import safe_load, safe_save
from lfo.data.transitions import Transitions


@dataclass
class BCOConfig:
    """Options of ``bco`` (``TrainConfig.method_options``)."""

    labels: str = "hard"
    """Expert pair labels: ``hard`` (the IDM's argmax, as in the paper) or ``soft``
    (its distribution p(a | s, s'), cross-entropy against it)."""
    lr: float | None = None
    """Policy learning rate (default: the shared ``lr``)."""


class BCOLearner(Learner):
    """An inverse dynamics model on the agent's play labels the expert; a BC policy clones it."""

    name = "bco"

    def __init__(
        self,
        settings: LearnerSettings,
        sample_agent: AgentSampler | None = None,
        options: dict | None = None,
    ) -> None:
        self.config = apply_options(BCOConfig(), options, self.name)
        if self.config.labels not in ("hard", "soft"):
            raise ValueError(f"bco labels must be 'hard' or 'soft', got {self.config.labels!r}")
        self.settings, self.sample_agent = settings, sample_agent
        s = settings
        self.policy = BCPolicy(settings, lr=self.config.lr)
        self.idm = InverseDynamicsModel(IDMConfig(
            s.obs_dim, s.n_actions, hidden=tuple(s.idm_hidden), lr=s.idm_lr, seed=s.seed))
        self._idm_logs: dict[str, float] = {}

    def act(self, features, greedy: bool = False):
        return self.policy.act(features, greedy)

    def update(
        self, expert: Transitions, agent: Transitions | None, step: int
    ) -> dict[str, float]:
        """One IDM step on agent data (on schedule), then one BC step on IDM-labelled pairs."""
        if agent is None:
            raise ValueError("bco learns its inverse dynamics from agent transitions")
        self._idm_logs = scheduled_idm_update(
            self.idm, step, self.settings.idm_update_every, agent, self.sample_agent,
            self._idm_logs)
        labelled = self.idm.label_batch(
            dataclasses.replace(expert, action=None), soft=self.config.labels == "soft")
        return {**self._idm_logs, **self.policy.update(labelled.obs, labelled.action)}

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        self.idm.save(folder / "idm.pt")
        safe_save({"policy": self.policy.state_dict()}, folder / "learner.pt")

    def load(self, folder: Path) -> None:
        folder = Path(folder)
        idm = InverseDynamicsModel.load(folder / "idm.pt")
        self.policy.load_state_dict(safe_load(folder / "learner.pt")["policy"])
        self.idm = idm
