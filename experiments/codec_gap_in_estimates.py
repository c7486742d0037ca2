"""Between rung 1 and rung 2: does the estimator read a decoded clip as it reads the live game?

    OMP_NUM_THREADS=1 python -m experiments.codec_gap_in_estimates --game pong \
        --estimator default-pong --clips 4 --runs runs/bench_pong_est_bc/oracle-bc-s0 \
        --json results/codec_gap_pong.json

EVALUATION ONLY (it replays the clips' recorded actions). Each expert clip is replayed
from its seed in the live env, which retraces the recorded episode exactly (the states
match frame for frame), so every step has two pictures of the same state: the decoded
clip frame (what a learner trains on) and the live frame (what the agent then plays on).
The estimator reads both; per state variable the script reports

- R^2 against the true state on the clip and on the live frames;
- the gap: the mean difference live - clip (a bias) and the RMS difference, each over
  the variable's spread in the clip (0 = the two readings agree);

and, for each ``--runs`` learner, how often it presses (any action other than no-op)
and how often it picks the same action on the two readings of the same state. A learner
trained on clip readings that acts differently on the live readings of the very same
states loses at play time what no probe on the clips shows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import encoders
from encoders.clip_features import clip_features, encoder_view
from encoders.state_estimator import r2_per_variable
from lfo.data.video import probe_files, scan_folder
from lfo.demonstrations.privileged_clips import replay_frames_and_states
from lfo.envs.games import get_game
from lfo.envs.privileged import state_variables
from lfo.loop.policy import load_run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--game", required=True)
    ap.add_argument("--estimator", required=True)
    ap.add_argument("--videos", default=None, help="clip folder (default videos/<game>)")
    ap.add_argument("--clips", type=int, default=4, help="first N clips of the folder")
    ap.add_argument("--max-steps", type=int, default=3000, help="steps kept per clip")
    ap.add_argument("--runs", nargs="*", default=[], help="learners acting on the estimate")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    game = get_game(args.game).name
    names = tuple(v.name for v in state_variables(game))
    estimator = encoders.load(args.estimator)
    if tuple(estimator.spec.outputs or ()) != names:
        raise SystemExit(f"{args.estimator} does not read {game}'s state {names}")
    view = encoder_view(estimator, game)
    clips = scan_folder(args.videos or f"videos/{game}").clips[:args.clips]
    est_clip, est_live, truth, valid = [], [], [], []
    for clip, info in zip(clips, probe_files([c.path for c in clips]), strict=True):
        frames, s, v = replay_frames_and_states(clip.path, game)
        decoded = clip_features(info, estimator, game, preprocess=view)
        if len(decoded) != len(frames):
            raise SystemExit(f"{clip.path}: {len(decoded)} decoded frames, {len(frames)} live")
        n = min(len(frames), args.max_steps + 1)
        est_clip.append(decoded[:n])
        est_live.append(estimator.encode(view.clip(frames[:n])))
        truth.append(s[:n])
        valid.append(v[:n])
        print(f"{clip.path.name}: {n} frames")
    c, li, t, v = (np.concatenate(x) for x in (est_clip, est_live, truth, valid))
    r2_clip, r2_live = r2_per_variable(c, t, v), r2_per_variable(li, t, v)
    spread = np.array([np.std(c[v[:, j], j]) if v[:, j].any() else np.nan
                       for j in range(len(names))])
    diff = np.where(v, li - c, np.nan)
    bias = np.nanmean(diff, axis=0) / np.maximum(spread, 1e-9)
    rms = np.sqrt(np.nanmean(diff ** 2, axis=0)) / np.maximum(spread, 1e-9)
    rows = {n: {"r2_clip": float(r2_clip[j]), "r2_live": float(r2_live[j]),
                "bias_over_spread": float(bias[j]), "rms_gap_over_spread": float(rms[j])}
            for j, n in enumerate(names)}
    print(f"\n{len(c)} frames from {len(clips)} clips; gap = live reading - clip reading, "
          "over the variable's spread on the clips")
    print("| variable | R^2 clip | R^2 live | bias / spread | RMS gap / spread |")
    print("|---|---|---|---|---|")
    for n, r in rows.items():
        print(f"| {n} | {r['r2_clip']:.3f} | {r['r2_live']:.3f} | "
              f"{r['bias_over_spread']:+.3f} | {r['rms_gap_over_spread']:.3f} |")
    learners = {}
    for run_dir in args.runs:
        run = load_run(run_dir)
        learner = run.load_learner()
        acts = {}
        for key, x in (("clip", c), ("live", li), ("state", t.astype(np.float32))):
            acts[key] = np.array([int(learner.act(run.normalizer(row.astype(np.float32)),
                                                  greedy=True)) for row in x])
        learners[run_dir] = {
            "press_rate": {k: float((a != 0).mean()) for k, a in acts.items()},
            "agreement_clip_live": float((acts["clip"] == acts["live"]).mean()),
            "agreement_clip_state": float((acts["clip"] == acts["state"]).mean()),
        }
        r = learners[run_dir]
        print(f"{run_dir}: press rate on clip / live / true state "
              f"{r['press_rate']['clip']:.3f} / {r['press_rate']['live']:.3f} / "
              f"{r['press_rate']['state']:.3f}; same action clip vs live "
              f"{r['agreement_clip_live']:.3f}, clip vs state {r['agreement_clip_state']:.3f}")
    if args.json:
        command = "python -m experiments.codec_gap_in_estimates " + " ".join(
            sys.argv[1:] if argv is None else argv)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(
            {"command": command, "frames": int(len(c)), "clips": len(clips),
             "variables": rows, "learners": learners}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
