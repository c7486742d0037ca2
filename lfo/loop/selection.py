"""Choosing a checkpoint without the env's reward: whose play looks most like the videos.

The criterion is a distance between two sets of encoded states: the agent's recent
training play (the replay's newest transitions) and the expert clips' states, both in the
run's normalised feature space. It is the symmetric Chamfer distance

    d(A, E) = mean_{a in A} min_{e in E} |a - e| + mean_{e in E} min_{a in A} |e - a|

The first half is small when the agent only visits states the expert visits; the second
when the agent reaches every kind of state the expert does (an agent idling at the start
covers none of the expert's states at speed). Lower is better; it reads no reward, no
expert action and no evaluation return, so it may choose among checkpoints on a game
without a score. :func:`spearman` says how well it ranked a run's evaluations.
"""

from __future__ import annotations

import numpy as np
import torch


def chamfer_distance(
    agent_states: np.ndarray, expert_states: np.ndarray, *, max_points: int = 4_000,
    seed: int = 0, chunk: int = 1_000,
) -> float:
    """Symmetric Chamfer distance between two (N, D) state sets (subsampled to at most
    ``max_points`` each, with a fixed seed, so it costs the same on any clip folder)."""
    rng = np.random.default_rng(seed)
    a, e = (_subsample(x, max_points, rng) for x in (agent_states, expert_states))
    if len(a) == 0 or len(e) == 0:
        return float("nan")
    ta, te = torch.from_numpy(a).float(), torch.from_numpy(e).float()
    a_to_e = torch.cat([torch.cdist(ta[i:i + chunk], te).min(dim=1).values
                        for i in range(0, len(ta), chunk)])
    e_to_a = torch.cat([torch.cdist(te[i:i + chunk], ta).min(dim=1).values
                        for i in range(0, len(te), chunk)])
    return float(a_to_e.mean() + e_to_a.mean())


def _subsample(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if len(x) <= n:
        return x
    return x[np.sort(rng.choice(len(x), size=n, replace=False))]


def spearman(x: list[float] | np.ndarray, y: list[float] | np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN below 3 pairs or for a
    constant input."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3:
        return float("nan")
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for value in np.unique(x):  # ties share their mean rank
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks
