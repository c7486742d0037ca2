"""Which play data teaches an IDM the expert's actions? (CarRacing, action repeat 4)

EVALUATION ONLY (reads the recorded expert actions to score). Collects N agent steps of play
with (a) uniformly random actions each step, (b) uniformly random actions held for a random,
geometrically distributed number of steps (temporally extended random play, mean
``--mean-hold``), encodes them with the shipped encoder, trains an IDM on each and scores
its labels on every expert pair of the clips (decoded at the agent's rate).

    OMP_NUM_THREADS=1 .venv/bin/python -m experiments.measure_idm_exploration \\
        --steps 8000 --json results/idm_exploration_carracing_repeat4.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

import encoders
from encoders.clip_features import clip_features, encoder_view
from experiments.measure_idm_on_expert_pairs import fit
from lfo.algorithms.oracle import expert_pair_actions
from lfo.analysis.label_audit import audit
from lfo.data.video import scan_folder
from lfo.envs.games import make_env


def play(policy: str, steps: int, repeat: int, mean_hold: float, seed: int, encoder, view):
    env = make_env("carracing", preprocess=view, action_repeat=repeat)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    frames, nexts, actions = [], [], []
    action, hold = 0, 0
    episode = 0
    while len(actions) < steps:
        if policy == "uniform" or hold <= 0:
            action = int(rng.integers(env.action_space.n))
            hold = int(rng.geometric(1.0 / mean_hold))
        hold -= 1
        nxt, _, terminated, truncated, _ = env.step(action)
        frames.append(obs)
        nexts.append(nxt)
        actions.append(action)
        obs = nxt
        if terminated or truncated:
            episode += 1
            obs, _ = env.reset(seed=seed + episode)
    encode = lambda x: np.concatenate([encoder.encode(np.stack(x[i:i + 256]))  # noqa: E731
                                       for i in range(0, len(x), 256)])
    return encode(frames), encode(nexts), np.asarray(actions)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=8000)
    p.add_argument("--repeat", type=int, default=4)
    p.add_argument("--mean-hold", type=float, default=10.0)
    p.add_argument("--updates", type=int, default=4000)
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(1)
    enc = encoders.load("default-carracing")
    view = encoder_view(enc, "carracing")
    folder = scan_folder("videos/carracing")
    hz = 50.0 / args.repeat
    feats = [clip_features(c, enc, "carracing", preprocess=view, control_hz=hz)
             for c in folder.clips]
    allf = np.concatenate(feats)
    mu, sd = allf.mean(0), allf.std(0) + 1e-6
    norm = lambda x: torch.from_numpy(((x - mu) / sd).astype(np.float32))  # noqa: E731
    eo = torch.cat([norm(f[:-1]) for f in feats])
    en = torch.cat([norm(f[1:]) for f in feats])
    recorded = expert_pair_actions([c.path for c in folder.clips], [len(f) for f in feats],
                                   repeat=args.repeat)
    results = {}
    for policy in ("uniform", "held"):
        o, n, a = play(policy, args.steps, args.repeat, args.mean_hold, 1000, enc, view)
        model = fit(norm(o), norm(n), torch.from_numpy(a), 5, args.updates)
        res = audit(model.label(eo, en, soft=False).numpy(), recorded, 5)
        results[policy] = dict(expert_acc=res.accuracy, prior=res.prior_accuracy,
                               recall=res.recall, guessed=res.guessed_frequency)
        print(policy, json.dumps(results[policy]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
