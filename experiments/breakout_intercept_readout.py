"""Read Breakout's intercept directly, or compute it from the estimated ball? (diagnostic)

    OMP_NUM_THREADS=1 python -m experiments.breakout_intercept_readout \
        --json results/breakout_intercept_readout.json

The 13-variable Breakout state holds where the ball next reaches the paddle
(``intercept_x``, ``intercept_gap``, ``intercept_steps``), a function of the ball
variables (:func:`lfo.envs.privileged.breakout_intercept`). A state estimator can output
them as heads of their own, or a reader could compute them from its estimates of the
ball. This scores both on the shipped clips' decoded frames against the replayed states
(EVALUATION ONLY: replaying reads the recorded actions, as the probe does), on frames
with the ball in play.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import encoders
from lfo.analysis.probe import r2_score
from lfo.analysis.state_probe import encode_clips, expert_state_clips
from lfo.envs.privileged import BREAKOUT_STATE, breakout_intercept

INTERCEPT = ("intercept_x", "intercept_gap", "intercept_steps")


def computed_intercept(states: np.ndarray, col: dict[str, int]) -> np.ndarray:
    """(N, 3) intercept x, gap and steps computed from each row's ball and paddle (RAM units)."""
    out = np.zeros((len(states), 3))
    for k, s in enumerate(states):
        ix, steps = breakout_intercept(s[col["ball_x"]], s[col["ball_y"]], s[col["ball_dx"]],
                                       s[col["ball_vx"]], s[col["ball_vy"]])
        out[k] = ix, ix - s[col["paddle_x"]], steps
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="default-breakout")
    parser.add_argument("--videos", default="videos/breakout")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    names = [v.name for v in BREAKOUT_STATE]
    col = {n: j for j, n in enumerate(names)}
    scale = np.array([v.scale for v in BREAKOUT_STATE])
    clips = expert_state_clips(args.videos, "breakout")
    estimator = encoders.load(args.encoder)
    pred = np.concatenate(encode_clips(estimator, clips, "breakout")) * scale
    true = np.concatenate([c.states for c in clips]) * scale
    in_play = np.concatenate([c.valid for c in clips])[:, col["intercept_x"]]
    pred, true = pred[in_play], true[in_play]
    computed = computed_intercept(pred, col)
    rows = {}
    for j, name in enumerate(INTERCEPT):
        target = true[:, col[name]]
        rows[name] = {
            "std": float(target.std()),
            "direct_r2": r2_score(target, pred[:, col[name]]),
            "direct_rmse": float(np.sqrt(np.mean((target - pred[:, col[name]]) ** 2))),
            "computed_r2": r2_score(target, computed[:, j]),
            "computed_rmse": float(np.sqrt(np.mean((target - computed[:, j]) ** 2))),
        }
        r = rows[name]
        print(f"{name:16s} direct R^2 {r['direct_r2']:.3f} (RMSE {r['direct_rmse']:.1f}) | "
              f"computed from the ball R^2 {r['computed_r2']:.3f} (RMSE {r['computed_rmse']:.1f})"
              f" | std {r['std']:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"encoder": args.encoder, "videos": args.videos, "frames": int(in_play.sum()),
             "variables": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
