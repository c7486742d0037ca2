"""Where a Breakout state estimator misreads the ball's landing point, and two cheap fixes.

    OMP_NUM_THREADS=1 python -m experiments.breakout_landing_point_errors \
        --estimator default-breakout --json results/breakout_landing_point_errors.json

EVALUATION ONLY (the clips' states come from replaying their recorded actions). On the
decoded expert clips it reports:

- the landing point (``intercept_x``, ``intercept_gap``, ``intercept_steps``) as read by
  the estimator, against the same variables *computed* from the estimated ball with
  :func:`lfo.envs.privileged.breakout_intercept` (the function that defines them);
- the read landing point smoothed over time (an EMA, and the running mean over each
  fall): does averaging remove the error, or is it correlated from frame to frame?
- the errors (RAM units) of the gap, the ball's x and the paddle's x near the paddle,
  where the decision to move is made.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import encoders
from encoders.state_estimator import r2_per_variable
from lfo.analysis.state_probe import encode_clips, expert_state_clips
from lfo.envs.privileged import BREAKOUT_STATE, BREAKOUT_STATE_NAMES, breakout_intercept

NAMES = BREAKOUT_STATE_NAMES
SCALES = np.array([v.scale for v in BREAKOUT_STATE])
COL = {n: i for i, n in enumerate(NAMES)}
LANDING = [COL["intercept_x"], COL["intercept_gap"], COL["intercept_steps"]]


def derived(scaled: np.ndarray) -> np.ndarray:
    """The estimate with its landing point recomputed from its own ball and paddle."""
    raw = scaled.astype(np.float64) * SCALES
    for r in raw:
        ix, steps = breakout_intercept(r[COL["ball_x"]], r[COL["ball_y"]], r[COL["ball_dx"]],
                                       r[COL["ball_vx"]], r[COL["ball_vy"]])
        r[LANDING] = [ix, ix - r[COL["paddle_x"]], steps]
    return raw / SCALES


def smoothed(scaled: np.ndarray, mode: str, alpha: float = 0.5) -> np.ndarray:
    """One clip's estimate with its landing x smoothed causally (``ema`` with ``alpha``,
    or ``fall``: the running mean since the estimated ball started falling); the gap is
    recomputed against the current paddle."""
    out = scaled.astype(np.float64).copy()
    ix, vy, px = COL["intercept_x"], COL["ball_vy"], COL["paddle_x"]
    acc, n = None, 0
    for t in range(len(out)):
        x = scaled[t, ix]
        if mode == "ema":
            acc = x if acc is None else alpha * acc + (1 - alpha) * x
        elif t == 0 or scaled[t, vy] <= 0 or scaled[t - 1, vy] <= 0:
            acc, n = x, 1
        else:
            n += 1
            acc += (x - acc) / n
        out[t, ix] = acc
        out[t, COL["intercept_gap"]] = (acc * SCALES[ix] - scaled[t, px] * SCALES[px]) \
            / SCALES[COL["intercept_gap"]]
    return out


def abs_errors(pred: np.ndarray, target: np.ndarray, mask: np.ndarray, j: int) -> dict:
    """Median and 90th percentile of the absolute error of variable ``j`` (RAM units)."""
    e = np.abs(pred[mask, j] - target[mask, j]) * SCALES[j]
    return {"median": float(np.median(e)), "p90": float(np.percentile(e, 90)),
            "frames": int(mask.sum())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--estimator", default="default-breakout")
    ap.add_argument("--videos", default="videos/breakout")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    estimator = encoders.load(args.estimator)
    if tuple(estimator.spec.outputs or ()) != NAMES:
        raise SystemExit(f"{args.estimator} does not read Breakout's state {NAMES}")
    clips = expert_state_clips(args.videos, "breakout")
    feats = encode_clips(estimator, clips, "breakout")
    target = np.concatenate([c.states for c in clips]).astype(np.float64)
    valid = np.concatenate([c.valid for c in clips])
    readings = {
        "read": np.concatenate(feats).astype(np.float64),
        "computed from the estimated ball": np.concatenate([derived(f) for f in feats]),
        "read, EMA 0.5": np.concatenate([smoothed(f, "ema") for f in feats]),
        "read, mean over the fall": np.concatenate([smoothed(f, "fall") for f in feats]),
    }
    steps = target[:, COL["intercept_steps"]] * SCALES[COL["intercept_steps"]]
    falling = valid[:, COL["intercept_gap"]] & (target[:, COL["ball_vy"]] > 0)
    near = falling & (steps < 5)
    out: dict = {"estimator": args.estimator, "frames": len(target), "readings": {}}
    print(f"{len(target)} frames of {len(clips)} decoded clips; near = falling, < 5 steps "
          "to the paddle's row")
    print("| landing point | R^2 x / gap / steps | near the paddle: gap |error| median / p90 |")
    print("|---|---|---|")
    for name, pred in readings.items():
        r2 = r2_per_variable(pred, target, valid)
        e = abs_errors(pred, target, near, COL["intercept_gap"])
        out["readings"][name] = {"r2": {NAMES[j]: float(r2[j]) for j in LANDING},
                                 "near_gap_error": e}
        print(f"| {name} | {' / '.join(f'{r2[j]:.3f}' for j in LANDING)} | "
              f"{e['median']:.2f} / {e['p90']:.2f} |")
    pred = readings["read"]
    out["near_position_errors"] = {n: abs_errors(pred, target, near, COL[n])
                                   for n in ("ball_x", "paddle_x", "intercept_gap")}
    big = near & (np.abs(target[:, COL["intercept_gap"]] * SCALES[COL["intercept_gap"]]) > 4)
    out["near_gap_sign_wrong"] = float(np.mean(
        np.sign(pred[big, COL["intercept_gap"]]) != np.sign(target[big, COL["intercept_gap"]])))
    for n, e in out["near_position_errors"].items():
        print(f"near the paddle, {n}: |error| median {e['median']:.2f}, p90 {e['p90']:.2f} "
              "RAM units")
    print(f"near the paddle, the gap's sign is wrong on {out['near_gap_sign_wrong']:.3f} of "
          "the steps where the true gap exceeds 4 units")
    if args.json:
        out["command"] = "python -m experiments.breakout_landing_point_errors " + " ".join(
            sys.argv[1:] if argv is None else argv)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
