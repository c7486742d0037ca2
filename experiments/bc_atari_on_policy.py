"""Where does behavioural cloning on the RAM state go wrong in play? (ORACLE diagnostic)

    OMP_NUM_THREADS=1 python -m experiments.bc_atari_on_policy --game pong --episodes 2

Trains the oracle's BC policy (as in experiments/bc_atari_state.py, input = the state
s_t only) on all clips, then plays it greedily and sampled while the scripted expert
shadows it: at every step the expert is asked what it would do in the learner's state
(its paddle observer told the action actually played, so it tracks the real rest point).
Reports the learner's and the shadow expert's press rates, their agreement, and the
learner's action distribution on the steps where the expert would press.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from experiments.bc_atari_state import features, train_eval
from lfo.demonstrations.experts import make_expert
from lfo.demonstrations.labels import read_expert_actions
from lfo.demonstrations.privileged_clips import clip_states
from lfo.envs.games import make_env


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--game", default="pong")
    ap.add_argument("--updates", type=int, default=20_000)
    ap.add_argument("--episodes", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    clips = sorted(Path(f"videos/{args.game}").glob("clip_*.mp4"))
    env = make_env(args.game, observe_state=True)
    n_actions = int(env.action_space.n)
    xs = [features(clip_states(c, args.game)[0], read_expert_actions(c), n_actions, "state")
          for c in clips]
    x = np.concatenate([a for a, _ in xs])
    y = np.concatenate([b for _, b in xs])
    policy, mean, std, fit = train_eval(x, y, x[:10], y[:10], n_actions, args.updates, 0)
    result = {"game": args.game, "updates": args.updates, "train_accuracy":
              fit["train_accuracy"], "modes": {}}
    for mode in ("greedy", "sampled"):
        rows = []
        for seed in range(args.episodes):
            obs, _ = env.reset(seed=seed)
            expert = make_expert(args.game, seed=seed)
            expert.reset(env.unwrapped, seed=seed)
            mine, theirs, total, done = [], [], 0.0, False
            while not done:
                p = policy.probs(((obs - mean) / std)[None].astype(np.float32))[0].numpy()
                a = int(p.argmax()) if mode == "greedy" else int(policy.rng.choice(len(p), p=p))
                e = expert.act(env.unwrapped, None)  # what the expert would do here
                expert._last_action = a  # its observer follows the action actually played
                obs, r, term, trunc, _ = env.step(a)
                mine.append(a)
                theirs.append(e)
                total += float(r)
                done = term or trunc
            mine, theirs = np.array(mine), np.array(theirs)
            press_e = theirs != 0
            row = {"seed": seed, "return": total, "length": len(mine),
                   "learner_press_rate": float((mine != 0).mean()),
                   "expert_press_rate_on_learner_states": float(press_e.mean()),
                   "agreement": float((mine == theirs).mean()),
                   "learner_action_when_expert_presses": {
                       "same": float((mine[press_e] == theirs[press_e]).mean()),
                       "noop": float((mine[press_e] == 0).mean()),
                       "opposite": float(((mine[press_e] != 0)
                                          & (mine[press_e] != theirs[press_e])).mean())}}
            rows.append(row)
            print(mode, json.dumps(row), flush=True)
        result["modes"][mode] = rows
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
