"""EVALUATION ONLY: how a trained run's action guesses on the expert pairs compare with the
expert's recorded actions.

An ``iq-idm`` run never sees the expert's actions; it labels each expert pair (s, s')
with its inverse dynamics model and acts by its soft-Q policy. This module asks, after the
fact and with the recorded actions (read through :mod:`lfo.demonstrations.labels`, like the
oracles):
how often are the IDM's labels right, how often does the agent's greedy action at an
expert state match the expert's, and which actions get confused. Nothing on the
learning path imports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from lfo.algorithms.oracle import expert_pair_actions  # evaluation: reads the labels on call
from lfo.loop.config import load_run_config
from lfo.loop.trainer import Trainer


@dataclass
class LabelAuditConfig:
    """Which run to audit (scripts/audit_labels.py)."""

    run: Path
    """A run folder written by train_lfo.py or benchmark.py."""
    json: Path | None = None
    """Also write the audit JSON here."""


@dataclass
class LabelAudit:
    """Agreement of guessed actions with the recorded expert actions."""

    accuracy: float
    """Fraction of pairs whose guessed action is the recorded one."""
    prior_accuracy: float
    """Accuracy of always guessing the expert's most frequent action (the floor)."""
    confusion: list[list[int]]
    """``confusion[true][guessed]``: counts."""
    recall: list[float]
    """Per true action: fraction guessed right (nan where the expert never took it)."""
    expert_frequency: list[float]
    """How often the expert took each action."""
    guessed_frequency: list[float]
    """How often each action was guessed."""

    def to_dict(self) -> dict:
        return asdict(self)


def audit(guessed: np.ndarray, recorded: np.ndarray, n_actions: int) -> LabelAudit:
    """Compare guessed actions (N,) with the recorded ones (N,) over ``n_actions`` actions."""
    guessed, recorded = np.asarray(guessed, np.int64), np.asarray(recorded, np.int64)
    if guessed.shape != recorded.shape or guessed.ndim != 1 or len(guessed) == 0:
        raise ValueError(f"need two equal, non-empty 1-d arrays; got {guessed.shape} and "
                         f"{recorded.shape}")
    for name, a in (("guessed", guessed), ("recorded", recorded)):
        if a.min() < 0 or a.max() >= n_actions:
            raise ValueError(f"{name} actions outside 0..{n_actions - 1}")
    confusion = np.zeros((n_actions, n_actions), np.int64)
    np.add.at(confusion, (recorded, guessed), 1)
    per_true = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.diag(confusion) / per_true
    n = len(recorded)
    return LabelAudit(
        accuracy=float(np.trace(confusion) / n),
        prior_accuracy=float(per_true.max() / n),
        confusion=confusion.tolist(),
        recall=[float(r) for r in recall],
        expert_frequency=(per_true / n).tolist(),
        guessed_frequency=(confusion.sum(axis=0) / n).tolist(),
    )


@torch.no_grad()
def audit_run(run_dir: str | Path) -> dict[str, dict]:
    """Audit the IDM labels and the greedy policy of the run in ``run_dir`` (its last
    checkpoint) on every expert pair of its clips."""
    trainer = Trainer(load_run_config(run_dir, progress=False))
    trainer.load_checkpoint()
    pairs = trainer.expert
    feats_per_clip = np.bincount(pairs.clip_index, minlength=len(trainer.folder.clips)) + 1
    recorded = expert_pair_actions([c.path for c in trainer.folder.clips], feats_per_clip,
                                   repeat=trainer.cfg.action_repeat)
    obs, nxt = torch.from_numpy(pairs.obs), torch.from_numpy(pairs.next_obs)
    n_actions = trainer.settings.n_actions
    out = {"run": str(run_dir), "step": trainer.step, "pairs": len(pairs)}
    learner = trainer.learner
    idm = getattr(learner, "idm", None)
    if idm is not None:
        out["idm"] = audit(idm.label(obs, nxt, soft=False).numpy(), recorded, n_actions).to_dict()
    if getattr(learner, "label_shift", None) is not None:  # the labels the learner used
        out["idm_label_shift"] = audit(learner.label_expert(obs, nxt).argmax(dim=1).numpy(),
                                       recorded, n_actions).to_dict()
        out["idm_label_shift"]["expert_prior"] = learner.label_shift.prior.tolist()
    greedy = learner.act(pairs.obs, greedy=True)
    out["policy_greedy"] = audit(np.asarray(greedy).reshape(-1), recorded, n_actions).to_dict()
    return out
