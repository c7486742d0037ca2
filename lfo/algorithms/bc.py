"""Behavioural cloning: a softmax policy over features fitted by cross-entropy to action labels.

:class:`BCPolicy` is the policy network shared by BCO (labels from an inverse dynamics
model, :mod:`lfo.algorithms.bco`) and by :class:`BCOracle`, the ``oracle-bc`` baseline,
which clones the RECORDED EXPERT ACTIONS: an oracle (uses recorded expert actions), never
a learning-from-video method. It is offline: it takes no env steps, and the loop runs one
gradient step per step of its budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lfo.algorithms.agent import build_mlp
from lfo.algorithms.learner import (
    Learner,
    LearnerSettings,
    apply_options,
    as_batch,
    choose_actions,
    load_rng,
    move_optimizer_state,
    save_rng,
)
from lfo.data.safe_load import safe_load, safe_save
from lfo.data.transitions import Transitions


def bc_loss(logits: Tensor, target: Tensor) -> tuple[Tensor, dict[str, float]]:
    """Cross-entropy of a softmax policy against action labels.

    Args:
        logits: policy logits, shape (N, A).
        target: integer labels (N,) or a label distribution (N, A) (rows sum to one);
            the soft form is ``-sum_a p(a) log softmax(logits)_a``, which equals the hard
            form on one-hot rows.

    Returns:
        The mean loss and diagnostics ``bc_loss``, ``bc_accuracy`` (argmax agreement with
        the label's argmax) and ``bc_entropy`` (of the policy, nats).
    """
    log_p = F.log_softmax(logits, dim=-1)
    if target.dim() == 1:
        per_row = -log_p.gather(1, target.long().unsqueeze(1)).squeeze(1)
        label = target.long()
    else:
        if target.shape != logits.shape:
            raise ValueError(f"soft labels {tuple(target.shape)} vs logits {tuple(logits.shape)}")
        per_row = -(target.to(log_p.dtype) * log_p).sum(dim=1)
        label = target.argmax(dim=1)
    loss = per_row.mean()
    with torch.no_grad():
        diagnostics = {
            "bc_loss": float(loss),
            "bc_accuracy": float((logits.argmax(dim=1) == label).float().mean()),
            "bc_entropy": float(-(log_p.exp() * log_p).sum(dim=1).mean()),
        }
    return loss, diagnostics


class BCPolicy:
    """An MLP softmax policy pi(a | s) trained by :func:`bc_loss` with Adam.

    The output layer starts at zero, so the first policy is uniform (it explores like a
    random policy until it has learned something).
    """

    def __init__(self, settings: LearnerSettings, lr: float | None = None) -> None:
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
        self.net = build_mlp(settings.obs_dim, settings.n_actions, tuple(settings.hidden))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr or settings.lr)
        self.grad_clip = settings.grad_clip
        self.rng = np.random.default_rng(settings.seed)

    def move_to(self, device: torch.device | str) -> None:
        """Move the network and the optimiser's state to ``device``."""
        self.net.to(device)
        move_optimizer_state(self.optimizer, device)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @torch.no_grad()
    def probs(self, features: np.ndarray | Tensor) -> Tensor:
        """pi(. | s) for an (N, D) batch."""
        x, _ = as_batch(features, self.device)
        return self.net(x).softmax(dim=-1)

    def act(self, features: np.ndarray | Tensor, greedy: bool = False) -> int | np.ndarray:
        """Sampled from pi (with this policy's generator) or argmax."""
        x, single = as_batch(features)
        return choose_actions(self.probs(x), greedy, self.rng, single)

    def update(self, obs: Tensor, target: Tensor) -> dict[str, float]:
        """One cross-entropy step towards ``target`` labels (hard or soft)."""
        loss, diagnostics = bc_loss(self.net(obs.to(self.device).float()),
                                    target.to(self.device))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.grad_clip)
        self.optimizer.step()
        return diagnostics

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "rng": save_rng(self.rng)}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        load_rng(self.rng, state["rng"])


@dataclass
class BCConfig:
    """Options of ``oracle-bc`` (``TrainConfig.method_options``)."""

    lr: float | None = None
    """Policy learning rate (default: the shared ``lr``)."""


class BCOracle(Learner):
    """``oracle-bc``: behavioural cloning on the recorded expert actions (offline).

    ORACLE (uses recorded expert actions): it is the ceiling of what imitation from the
    same expert pairs can give when the actions are known, not a method from video.
    """

    name = "oracle-bc"
    uses_expert_actions = True
    interacts = False

    def __init__(self, settings: LearnerSettings, options: dict | None = None) -> None:
        self.config = apply_options(BCConfig(), options, self.name)
        self.policy = BCPolicy(settings, lr=self.config.lr)

    def act(self, features, greedy: bool = False):
        return self.policy.act(features, greedy)

    def update(
        self, expert: Transitions, agent: Transitions | None, step: int
    ) -> dict[str, float]:
        if expert.action is None:
            raise ValueError("oracle-bc needs the recorded expert actions on the expert batch")
        return self.policy.update(expert.obs, expert.action)

    def save(self, folder: Path) -> None:
        safe_save({"policy": self.policy.state_dict()}, Path(folder) / "learner.pt")

    def load(self, folder: Path) -> None:
        state = safe_load(Path(folder) / "learner.pt")
        self.policy.load_state_dict(state["policy"])
