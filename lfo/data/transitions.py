"""Training data on feature vectors: expert state pairs from clips, and the agent's replay.

Expert data are *state pairs only* ``(z_t, z_t+1)``: the video has no actions, and
nothing here reads the recorded ones (see :mod:`lfo.demonstrations.labels` for those).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass
class Transitions:
    """A batch of transitions on feature vectors.

    ``action`` is optional for expert data: integer labels (N,), a label distribution
    (N, A), or None (state-only). ``done`` marks true termination only (float 0/1).
    """

    obs: Tensor
    next_obs: Tensor
    done: Tensor
    action: Tensor | None = None

    def __post_init__(self) -> None:
        n = self.obs.shape[0]
        if self.next_obs.shape != self.obs.shape:
            raise ValueError(
                f"obs {tuple(self.obs.shape)} and next_obs {tuple(self.next_obs.shape)} differ"
            )
        if self.done.shape != (n,):
            raise ValueError(f"done must have shape ({n},), got {tuple(self.done.shape)}")
        if self.action is not None and self.action.shape[0] != n:
            raise ValueError(f"action has {self.action.shape[0]} rows, obs has {n}")

    def __len__(self) -> int:
        return self.obs.shape[0]

    def to(self, device: torch.device | str) -> Transitions:
        """The same batch on ``device``."""
        return Transitions(
            obs=self.obs.to(device),
            next_obs=self.next_obs.to(device),
            done=self.done.to(device),
            action=None if self.action is None else self.action.to(device),
        )


@dataclass
class ExpertPairs:
    """Consecutive feature pairs of expert clips, sampled uniformly.

    The end of a clip is treated as *not* terminal: a video does not say whether its
    episode ended by termination or by a time limit, and bootstrapping through a
    time-limit cut is the unbiased choice (a false terminal biases Q; DESIGN.md).

    ``action`` stays ``None`` on the learning-from-video path; only the explicitly
    labelled oracle baselines attach the recorded actions (:meth:`with_actions`, fed by
    :func:`lfo.algorithms.oracle.expert_pair_actions`).
    """

    obs: np.ndarray
    next_obs: np.ndarray
    clip_index: np.ndarray
    action: np.ndarray | None = None

    @classmethod
    def from_clips(cls, clip_features: Sequence[np.ndarray]) -> ExpertPairs:
        """Pairs ``(z_t, z_t+1)`` within each clip; clips with < 2 frames are ignored."""
        obs, nxt, owner = [], [], []
        for i, feats in enumerate(clip_features):
            if len(feats) < 2:
                continue
            obs.append(feats[:-1])
            nxt.append(feats[1:])
            owner.append(np.full(len(feats) - 1, i))
        if not obs:
            raise ValueError("no expert pairs: every clip has fewer than 2 frames")
        return cls(
            np.concatenate(obs).astype(np.float32),
            np.concatenate(nxt).astype(np.float32),
            np.concatenate(owner),
        )

    def __len__(self) -> int:
        return len(self.obs)

    def with_actions(self, actions: np.ndarray) -> ExpertPairs:
        """The same pairs carrying one action per pair (ORACLE BASELINES ONLY)."""
        actions = np.asarray(actions, dtype=np.int64)
        if actions.shape != (len(self),):
            raise ValueError(f"{len(self)} expert pairs but {actions.shape} actions")
        return ExpertPairs(self.obs, self.next_obs, self.clip_index, actions)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Transitions:
        """A uniform batch of expert pairs (never terminal; actions only if attached)."""
        index = rng.integers(0, len(self), size=batch_size)
        return Transitions(
            obs=torch.from_numpy(self.obs[index]),
            next_obs=torch.from_numpy(self.next_obs[index]),
            done=torch.zeros(batch_size),
            action=None if self.action is None else torch.from_numpy(self.action[index]),
        )


class ReplayBuffer:
    """The agent's own transitions ``(z, a, z', done)`` as float32 features, FIFO.

    ``done`` is true termination only; a time-limit truncation is stored as not done.
    The whole buffer round-trips through :meth:`state_dict` so a resumed run continues
    with exactly the same contents.
    """

    def __init__(self, capacity: int, obs_dim: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.action = np.zeros(capacity, np.int64)
        self.done = np.zeros(capacity, np.float32)
        self.size = 0
        self.cursor = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, action: int, next_obs: np.ndarray, done: bool) -> None:
        """Store one transition (overwriting the oldest when full)."""
        i = self.cursor
        self.obs[i], self.next_obs[i] = obs, next_obs
        self.action[i], self.done[i] = action, float(done)
        self.cursor = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def latest(self, n: int) -> np.ndarray:
        """The ``next_obs`` of the newest ``n`` transitions (fewer if fewer are stored),
        oldest first: the states the agent's recent play reached."""
        n = min(n, self.size)
        index = (self.cursor - n + np.arange(n)) % self.capacity
        return self.next_obs[index]

    def sample(self, batch_size: int, rng: np.random.Generator) -> Transitions:
        """A uniform batch of stored transitions, with actions."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = rng.integers(0, self.size, size=batch_size)
        return Transitions(
            obs=torch.from_numpy(self.obs[index]),
            next_obs=torch.from_numpy(self.next_obs[index]),
            done=torch.from_numpy(self.done[index]),
            action=torch.from_numpy(self.action[index]),
        )

    def state_dict(self) -> dict[str, np.ndarray | int]:
        """The filled part of the buffer and its cursor (for checkpoints)."""
        n = self.size
        return {
            "capacity": self.capacity, "size": n, "cursor": self.cursor,
            "obs": self.obs[:n].copy(), "next_obs": self.next_obs[:n].copy(),
            "action": self.action[:n].copy(), "done": self.done[:n].copy(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved.

        With the same capacity the buffer is restored exactly (contents and cursor). With a
        different capacity (a resumed run given a larger ``--steps``) the saved transitions are
        replayed oldest first, so a larger buffer holds all of them and a smaller one the
        newest that fit.
        """
        n, saved_capacity = int(state["size"]), int(state["capacity"])
        if state["obs"].shape[1:] != self.obs.shape[1:]:
            raise ValueError(
                f"replay checkpoint has features of shape {state['obs'].shape[1:]}, "
                f"this buffer {self.obs.shape[1:]}"
            )
        if saved_capacity == self.capacity:
            self.obs[:n], self.next_obs[:n] = state["obs"], state["next_obs"]
            self.action[:n], self.done[:n] = state["action"], state["done"]
            self.size, self.cursor = n, int(state["cursor"])
            return
        cursor = int(state["cursor"]) if n == saved_capacity else 0
        order = np.concatenate([np.arange(cursor, n), np.arange(0, cursor)])[-self.capacity:]
        m = len(order)
        self.obs[:m], self.next_obs[:m] = state["obs"][order], state["next_obs"][order]
        self.action[:m], self.done[:m] = state["action"][order], state["done"][order]
        self.size, self.cursor = m, m % self.capacity
