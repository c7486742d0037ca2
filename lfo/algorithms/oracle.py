"""ORACLE BASELINES ONLY: the recorded expert actions, aligned to the expert pairs.

The recorder (:mod:`lfo.demonstrations.recorder`) writes a clip of ``length + 1`` frames (the reset
frame, then one per env step) and one action per env step: frame ``t + 1`` is what
action ``a_t`` produced from frame ``t``. :meth:`lfo.data.transitions.ExpertPairs.from_clips` makes
the pairs ``(z_t, z_t+1)`` clip by clip, so pair ``t`` of a clip carries ``a_t``.

This is the one place outside evaluation that reads :mod:`lfo.demonstrations.labels`, and it is only
reached for methods whose ``uses_expert_actions`` is true (``oracle-bc``, ``oracle-iq``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def align_actions(
    clip_actions: Sequence[np.ndarray],
    clip_lengths: Sequence[int],
    names: Sequence[str],
    repeat: int = 1,
) -> np.ndarray:
    """One action per expert pair, in :meth:`ExpertPairs.from_clips` order.

    Args:
        clip_actions: each clip's recorded actions (one per env step).
        clip_lengths: each clip's number of feature frames (decoded at the control rate).
        names: clip names, for the error message.
        repeat: the agent's action repeat: clips decoded at 1/repeat of the recording rate
            make pairs that span ``repeat`` recorded steps; such a pair is labelled with the
            most frequent action of its block (ties: the lowest index).

    Raises:
        ValueError: a clip's frame count is not its action count + 1 (e.g. a clip that
            was resampled in time: its frames no longer match the recorded steps).
    """
    parts = []
    for actions, length, name in zip(clip_actions, clip_lengths, names, strict=True):
        if length < 2:  # from_clips skips it too
            continue
        actions = np.asarray(actions, dtype=np.int64)
        if repeat > 1:
            # pair k spans recorded steps k*repeat .. k*repeat + repeat - 1; the decoder may
            # drop a last, complete block (it keeps frames whole periods after the start)
            blocks = len(actions) // repeat
            if blocks in (length - 1, length):
                blocks = length - 1
                chunked = actions[: blocks * repeat].reshape(blocks, repeat)
                counts = np.stack([(chunked == a).sum(axis=1) for a in range(actions.max() + 1)])
                actions = counts.argmax(axis=0)
        if len(actions) != length - 1:
            raise ValueError(
                f"{name}: {length} frames but {len(actions)} recorded actions; an oracle needs "
                "one action per frame pair (clips recorded at the env's control rate, "
                "not resampled or cut)"
            )
        parts.append(actions)
    if not parts:
        raise ValueError("no expert pairs to label")
    return np.concatenate(parts)


def expert_pair_actions(
    clip_paths: Sequence[str | Path], clip_lengths: Sequence[int], repeat: int = 1
) -> np.ndarray:
    """Read each clip's recorded actions (:func:`lfo.demonstrations.labels.read_expert_actions`)
    and align."""
    from lfo.demonstrations.labels import read_expert_actions  # imported here: oracles only

    paths = [Path(p) for p in clip_paths]
    return align_actions([read_expert_actions(p) for p in paths], clip_lengths,
                         [p.name for p in paths], repeat)
