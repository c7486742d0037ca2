"""Inverse dynamics model p(a | s, s') on feature vectors.

Trained by cross-entropy on the agent's own transitions, it labels the expert's state
pairs with actions so that action-based IQ-Learn can run on action-free demonstrations
(``variant="idm"`` in ``lfo.algorithms.iq``). Note what it estimates: the posterior over the
*agent's* actions given (s, s'), i.e. the agent's behaviour policy acts as the prior;
where several actions lead to the same s' the labels stay soft.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lfo.algorithms.agent import build_mlp
from lfo.data.safe_load import safe_load, safe_save
from lfo.data.transitions import Transitions


@dataclass
class IDMConfig:
    """Hyper-parameters of :class:`InverseDynamicsModel`."""

    obs_dim: int
    """Length of the feature vector."""
    n_actions: int
    """Number of discrete actions."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of the MLP."""
    input_mode: str = "diff"
    """Network input: "diff" = [s, s' - s] (changes stand out), "concat" = [s, s']."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 0.0
    """Adam weight decay."""
    seed: int | None = None
    """Seeds the network initialisation."""


class InverseDynamicsModel(nn.Module):
    """MLP classifier of the action that took s to s'."""

    def __init__(self, config: IDMConfig) -> None:
        super().__init__()
        if config.input_mode not in ("diff", "concat"):
            raise ValueError(f"input_mode must be 'diff' or 'concat', got {config.input_mode!r}")
        self.config = config
        if config.seed is not None:
            torch.manual_seed(config.seed)
        self.net = build_mlp(2 * config.obs_dim, config.n_actions, tuple(config.hidden))
        self.optimizer = torch.optim.Adam(
            self.net.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )

    def forward(self, obs: Tensor, next_obs: Tensor) -> Tensor:
        """Action logits, shape (N, A)."""
        second = next_obs - obs if self.config.input_mode == "diff" else next_obs
        return self.net(torch.cat([obs, second], dim=-1))

    @torch.no_grad()
    def label(self, obs: Tensor, next_obs: Tensor, soft: bool = True) -> Tensor:
        """p(a | s, s') as (N, A) probabilities, or argmax labels (N,) if ``soft`` is False."""
        was_training = self.training
        self.eval()
        logits = self.forward(obs, next_obs)
        self.train(was_training)
        return logits.softmax(dim=-1) if soft else logits.argmax(dim=-1)

    def label_batch(self, batch: Transitions, soft: bool = True) -> Transitions:
        """The same expert batch with IDM action labels filled in."""
        p = next(self.parameters())
        labels = self.label(batch.obs.to(p.device), batch.next_obs.to(p.device), soft=soft)
        return dataclasses.replace(batch, action=labels.to(batch.obs.device))

    def update(self, obs: Tensor, next_obs: Tensor, action: Tensor) -> dict[str, float]:
        """One cross-entropy step on labelled (agent) transitions; returns loss and accuracy."""
        device = next(self.parameters()).device
        obs, next_obs, action = obs.to(device), next_obs.to(device), action.to(device)
        logits = self.forward(obs, next_obs)
        loss = F.cross_entropy(logits, action.long())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            acc = (logits.argmax(dim=-1) == action).float().mean()
        return {"idm_loss": loss.item(), "idm_accuracy": acc.item()}

    @torch.no_grad()
    def accuracy(self, obs: Tensor, next_obs: Tensor, action: Tensor) -> float:
        """Fraction of transitions whose argmax label equals ``action``."""
        return float(
            (self.label(obs, next_obs, soft=False) == action.to(obs.device)).float().mean()
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write config, weights and optimiser state to ``path`` atomically."""
        safe_save(
            {
                "config": dataclasses.asdict(self.config),
                "net": self.net.state_dict(),
                "optimizer": self.optimizer.state_dict(),
            },
            path,
        )

    @classmethod
    def load(
        cls, path: str | os.PathLike, device: torch.device | str = "cpu"
    ) -> InverseDynamicsModel:
        """Rebuild a model saved by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no inverse dynamics checkpoint at {path}")
        state = safe_load(path, map_location=device)
        cfg = dict(state["config"])
        cfg["hidden"] = tuple(cfg["hidden"])
        model = cls(IDMConfig(**cfg)).to(device)
        model.net.load_state_dict(state["net"])
        model.optimizer.load_state_dict(state["optimizer"])
        return model


def scheduled_idm_update(
    idm: InverseDynamicsModel,
    step: int,
    every: int,
    agent: Transitions,
    sample_agent: Callable[[int], Transitions] | None,
    last_logs: dict[str, float],
) -> dict[str, float]:
    """The IDM schedule shared by IQ-idm and BCO: one supervised step at every multiple of
    ``every`` (``step`` counts the learner's updates), on a fresh batch twice the size from
    ``sample_agent`` when the loop offers one, else on the step's agent batch. Returns the
    latest logs (those of the last IDM step, or ``last_logs``). The schedule depends on
    ``step`` alone, so a resumed learner keeps it."""
    if step % every != 0:
        return last_logs
    batch = agent if sample_agent is None else sample_agent(2 * len(agent))
    return idm.update(batch.obs, batch.next_obs, batch.action)
