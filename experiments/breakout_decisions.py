"""Breakout, rung 1: which of the expert's decisions does a learner get wrong?

    OMP_NUM_THREADS=1 python -m experiments.breakout_decisions \\
        --runs runs/brk/breakout-r1-oracleiq-lr01clip5-s0 runs/brk/breakout-r1-oraclebc-s0 \\
        --json results/x.json

A ladder diagnostic on privileged-state runs (PRIVILEGED: the phases below are read from
the simulator's state; ORACLE: agreement is measured against the recorded expert actions,
which only evaluation may read). Every run's last checkpoint gives its greedy action on
each expert pair of its clips; the pairs are split by the phase of the ball

- ``serve``: no ball in play;
- ``rising``: the ball moves up (towards the bricks);
- ``falling, N+ steps``: the ball moves down and reaches the paddle's height in N or more
  agent steps (``intercept_steps``), split at 6 and 16;

and per phase the script prints how often the run's greedy action has the expert's effect
(FIRE counts as NOOP while a ball is in play: it does nothing then), how far the paddle is
from the landing point in the expert's own play, and the learner's Q gap (best minus
second best; cloning runs: their logit gap) where it agrees and where it does not. A
learner that agrees as often as cloning overall but less in the last steps before the
ball lands loses the balls cloning returns.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from lfo.algorithms.oracle import expert_pair_actions
from lfo.envs.privileged import BREAKOUT_STATE, BREAKOUT_STATE_NAMES
from lfo.loop.config import load_run_config
from lfo.loop.trainer import Trainer

NOOP, FIRE, RIGHT, LEFT = 0, 1, 2, 3
PHASES = ("serve", "rising", "falling, 16+ steps", "falling, 6-15 steps", "falling, 0-5 steps")


def effect(actions: np.ndarray, in_play: np.ndarray) -> np.ndarray:
    """What an action does: FIRE is NOOP while a ball is in play (it only serves)."""
    return np.where((actions == FIRE) & in_play, NOOP, actions)


def raw_state(features: np.ndarray, normalizer) -> np.ndarray:
    """Breakout states in their own units from the learner's normalised features. The
    in-play flag is read before un-normalising: a clipped flag (the serve lies ~27 standard
    deviations out) would not come back."""
    scales = np.array([v.scale for v in BREAKOUT_STATE], dtype=np.float32)
    raw = (features * normalizer.std + normalizer.mean) * scales
    flag = BREAKOUT_STATE_NAMES.index("ball_in_play")
    threshold = (0.5 / scales[flag] - normalizer.mean[flag]) / normalizer.std[flag]
    if normalizer.clip > 0:  # a clipped serve sits at -clip, in play is near 0
        threshold = max(threshold, -normalizer.clip + 1e-3)
    raw[:, flag] = features[:, flag] > threshold
    return raw


def phase_of(state: np.ndarray) -> np.ndarray:
    """The index in :data:`PHASES` of each raw Breakout state row (N, 13)."""
    col = {n: i for i, n in enumerate(BREAKOUT_STATE_NAMES)}
    in_play = state[:, col["ball_in_play"]] > 0.5
    falling = state[:, col["ball_vy"]] > 0
    steps = state[:, col["intercept_steps"]]
    phase = np.full(len(state), 1)
    phase[falling & (steps >= 16)] = 2
    phase[falling & (steps >= 6) & (steps < 16)] = 3
    phase[falling & (steps < 6)] = 4
    phase[~in_play] = 0
    return phase


def decision_gaps(values: torch.Tensor) -> np.ndarray:
    """Best minus second-best of each row of Q values (or logits)."""
    top = torch.topk(values, 2, dim=1).values
    return (top[:, 0] - top[:, 1]).numpy()


def audit_phases(run_dir: str) -> dict:
    """Per phase: pairs, agreement of the run's greedy action with the expert's effect,
    and the mean decision gap where it agrees / disagrees."""
    trainer = Trainer(load_run_config(run_dir, progress=False))
    if trainer.game != "breakout" or not trainer.privileged:
        raise ValueError(f"{run_dir}: needs a Breakout run on the privileged state")
    trainer.load_checkpoint()
    pairs = trainer.expert
    per_clip = np.bincount(pairs.clip_index, minlength=len(trainer.folder.clips)) + 1
    recorded = expert_pair_actions([c.path for c in trainer.folder.clips], per_clip,
                                   repeat=trainer.cfg.action_repeat)
    raw = raw_state(pairs.obs, trainer.normalizer)
    phase = phase_of(raw)
    in_play = phase > 0
    obs = torch.from_numpy(pairs.obs)
    learner = trainer.learner
    with torch.no_grad():
        values = (learner.agent.q(obs) if hasattr(learner, "agent")
                  else learner.policy.net(obs))
    greedy = values.argmax(dim=1).numpy()
    agree = effect(greedy, in_play) == effect(recorded, in_play)
    gaps = decision_gaps(values)
    rows = {}
    for i, name in enumerate(PHASES):
        m = phase == i
        rows[name] = {
            "pairs": int(m.sum()),
            "agree": float(agree[m].mean()) if m.any() else None,
            "gap_agree": float(gaps[m & agree].mean()) if (m & agree).any() else None,
            "gap_disagree": float(gaps[m & ~agree].mean()) if (m & ~agree).any() else None,
        }
    return {"run": run_dir, "method": trainer.cfg.resolved_method, "step": trainer.step,
            "pairs": len(pairs), "agree": float(agree.mean()), "phases": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", required=True)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    out = [audit_phases(r) for r in args.runs]
    print("| run | method | all | " + " | ".join(PHASES) + " |")
    print("|---|---|---|" + "---|" * len(PHASES))
    for row in out:
        cells = [f"{row['phases'][p]['agree']:.2f} (gap {row['phases'][p]['gap_agree'] or 0:.2f}"
                 f" / {row['phases'][p]['gap_disagree'] or 0:.2f})"
                 if row["phases"][p]["pairs"] else "-" for p in PHASES]
        print(f"| {row['run']} | {row['method']} | {row['agree']:.2f} | "
              + " | ".join(cells) + " |")
    print("pairs per phase: " + ", ".join(f"{p} {out[0]['phases'][p]['pairs']}" for p in PHASES))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
