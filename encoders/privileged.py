"""PRIVILEGED: the ideal encoder, which reads the simulator's state instead of pixels.

``state-<game>`` (e.g. ``state-carracing``) is not a visual encoder: its "frames" are the
state vectors of :class:`lfo.envs.privileged.StateObservation` (env) and of
:mod:`lfo.demonstrations.privileged_clips` (the expert's states, regenerated from the clips'
recorded
actions). It is the top rung of the ladder, the ceiling for every real encoder, and is
labelled as privileged wherever it appears; the learning-from-video path never uses it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from encoders.base import EncoderSpec, spec_id
from lfo.envs.privileged import state_variables

PRIVILEGED_PREFIX = "state-"


class PrivilegedStateEncoder(nn.Module):
    """Identity on privileged state vectors ``(N, D)`` float; marks a run as privileged."""

    privileged = True

    def __init__(self, game: str) -> None:
        super().__init__()

        names = tuple(v.name for v in state_variables(game))
        self.spec = EncoderSpec(
            name=f"{PRIVILEGED_PREFIX}{game}", id=spec_id("privileged-state", game, names),
            input_shape=(len(names), 1, 1), feature_dim=len(names), game=game,
            preprocess=None, outputs=names,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.float()

    def encode(self, states: np.ndarray, batch_size: int = 0) -> np.ndarray:
        """State vectors in, the same float32 vectors out (shape ``(N, D)``)."""
        states = np.asarray(states, dtype=np.float32)
        if states.ndim != 2 or states.shape[1] != self.spec.feature_dim:
            raise ValueError(f"{self.spec.name} expects (N, {self.spec.feature_dim}) state "
                             f"vectors, got {states.shape}")
        return states


def is_privileged(encoder: object) -> bool:
    """Whether an encoder reads the simulator (the ideal-encoder rung)."""
    return bool(getattr(encoder, "privileged", False))
