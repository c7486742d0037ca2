"""Plots a person would rather look at than read: learning curves, recovered rewards."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curve(
    eval_rows: Sequence[dict[str, Any]],
    path: Path,
    *,
    expert: float | None = None,
    random: float | None = None,
    title: str = "",
) -> Path:
    """Evaluation return (mean +- std, greedy and sampled) against env steps."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    steps = np.array([r["step"] for r in eval_rows])
    for mode, colour in (("greedy", "tab:blue"), ("sampled", "tab:orange")):
        if not eval_rows:
            break
        mean = np.array([r[f"{mode}_mean"] for r in eval_rows])
        std = np.array([r[f"{mode}_std"] for r in eval_rows])
        ax.plot(steps, mean, marker="o", color=colour, label=mode)
        ax.fill_between(steps, mean - std, mean + std, color=colour, alpha=0.2)
    if expert is not None and np.isfinite(expert):
        ax.axhline(expert, color="green", ls="--", label=f"expert (videos) {expert:.0f}")
    if random is not None and np.isfinite(random):
        ax.axhline(random, color="grey", ls=":", label=f"random {random:.0f}")
    ax.set_xlabel("env steps")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def reward_along_clip(rewards: np.ndarray, path: Path, *, fps: float, title: str = "") -> Path:
    """The recovered reward r(s_t, s_t+1) along one expert clip, against time."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    t = np.arange(len(rewards)) / fps
    ax.plot(t, rewards, lw=0.8)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("time in clip (s)")
    ax.set_ylabel("recovered reward")
    ax.set_title(f"recovered reward along {title}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def learning_curves(
    curves: dict[str, Sequence[Sequence[dict[str, float]]]],
    path: Path,
    *,
    expert: float | None = None,
    random: float | None = None,
    title: str = "",
) -> Path:
    """Several methods' evaluation returns against env steps, sampled and greedy panels.

    ``curves`` maps a method's label to one list of ``eval.csv`` rows per seed; each
    line is the mean over seeds at the steps all seeds share, with a +- std band.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, mode in zip(axes, ("sampled", "greedy"), strict=True):
        for i, (label, runs) in enumerate(curves.items()):
            runs = [r for r in runs if r]
            if not runs:
                continue
            steps = sorted(set.intersection(*({row["step"] for row in r} for r in runs)))
            if not steps:
                continue
            values = np.array([[next(row[f"{mode}_mean"] for row in r if row["step"] == s)
                                for s in steps] for r in runs])
            mean, std = values.mean(axis=0), values.std(axis=0)
            colour = colours[i % len(colours)]
            ax.plot(steps, mean, marker="o", ms=3, color=colour,
                    label=f"{label} (n={len(runs)})")
            ax.fill_between(steps, mean - std, mean + std, color=colour, alpha=0.15)
        if expert is not None and np.isfinite(expert):
            ax.axhline(expert, color="green", ls="--", label=f"expert (videos) {expert:.1f}")
        if random is not None and np.isfinite(random):
            ax.axhline(random, color="grey", ls=":", label=f"random {random:.1f}")
        ax.set_xlabel("env steps (offline oracle: updates)")
        ax.set_title(f"{mode} policy")
    axes[0].set_ylabel("evaluation return")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.04 + 0.045 * ((len(labels) + 2) // 3), 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
