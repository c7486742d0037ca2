"""How well can a policy on the privileged RAM state copy the Atari expert's actions?

    OMP_NUM_THREADS=1 python -m experiments.bc_atari_state --game pong --out results/x.json

Offline behavioural cloning (the oracle's MLP and loss, :class:`lfo.algorithms.bc.BCPolicy`)
on the expert's replayed states (:func:`lfo.demonstrations.privileged_clips.clip_states`) and
recorded
actions, trained on the first clips and scored on the held-out last ones: accuracy,
per-action recall, and the accuracy of always answering the most common action. The same
is repeated with more of the past in the input, since the expert's controller plans over
a paddle rest point it infers from the past (not in RAM):

- ``state``: s_t (what ``--encoder state-<game>`` sees);
- ``state+prev``: s_t and s_{t-1};
- ``state+last_action``: s_t and the one-hot action of the previous step;
- ``state+prev+last_action``; ``state+2prev+last2``: two steps of both.

ORACLE/PRIVILEGED analysis only (it reads the recorded actions and the simulator).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from lfo.algorithms.bc import BCPolicy
from lfo.algorithms.learner import LearnerSettings
from lfo.demonstrations.labels import read_expert_actions
from lfo.demonstrations.privileged_clips import clip_states
from lfo.envs.games import make_env, make_raw_env

VARIANTS = ("state", "state+prev", "state+last_action", "state+prev+last_action",
            "state+2prev+last2")


def features(states: np.ndarray, actions: np.ndarray, n_actions: int, variant: str
             ) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (one per action: the state before it, plus the chosen past) and targets."""
    s = states[:-1]  # s_t, the state an action a_t was chosen in
    t = len(actions)

    def shifted(x: np.ndarray, k: int) -> np.ndarray:  # x_{t-k}, the first row repeated
        return np.concatenate([np.repeat(x[:1], k, axis=0), x[: t - k]]) if k else x

    onehot = np.eye(n_actions, dtype=np.float32)[actions]
    noop = np.zeros((1, n_actions), dtype=np.float32)
    noop[0, 0] = 1.0

    def last(k: int) -> np.ndarray:  # a_{t-k}, NOOP before the first
        return np.concatenate([np.repeat(noop, k, axis=0), onehot[: t - k]])

    parts = {
        "state": [s],
        "state+prev": [s, shifted(s, 1)],
        "state+last_action": [s, last(1)],
        "state+prev+last_action": [s, shifted(s, 1), last(1)],
        "state+2prev+last2": [s, shifted(s, 1), shifted(s, 2), last(1), last(2)],
    }[variant]
    return np.concatenate(parts, axis=1).astype(np.float32), actions


def play(game: str, policy: BCPolicy, mean, std, n_actions: int, variant: str,
         seeds, max_steps: int | None) -> list[dict]:
    """Greedy episodes in the env (eval seeds 0, 1, ...), the input built from the live
    state history exactly as :func:`features` builds it from a clip."""
    env = make_env(game, observe_state=True)
    out = []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        states, actions, total, steps = [obs], [], 0.0, 0
        done = False
        while not done:
            x = live_features(states, actions, n_actions, variant)
            z = (x - mean) / std
            action = int(policy.probs(z[None]).argmax(-1)[0])
            obs, r, terminated, truncated, _ = env.step(action)
            states.append(obs)
            actions.append(action)
            total += float(r)
            steps += 1
            done = terminated or truncated or (max_steps is not None and steps >= max_steps)
        out.append({"seed": int(seed), "return": total, "length": steps})
        print(f"  play {variant} seed {seed}: {total} in {steps} steps", flush=True)
    env.close()
    return out


def live_features(states: list, actions: list, n_actions: int, variant: str) -> np.ndarray:
    """The :func:`features` row of the newest state, from the live history."""
    k = 3  # enough history for every variant
    s = np.stack(states[-k:])
    pad = k - len(s)
    if pad > 0:
        s = np.concatenate([np.repeat(s[:1], pad, axis=0), s])
    past = list(actions[-(k - 1):]) if actions else []
    past = [0] * (k - 1 - len(past)) + past
    # features() pairs state i with action i; append a dummy action for the newest state
    x, _ = features(np.concatenate([s, s[-1:]]), np.asarray(past + [0], dtype=np.int64),
                    n_actions, variant)
    return x[-1]


def train_eval(x_tr, y_tr, x_te, y_te, n_actions, updates, seed, batch=128):
    mean, std = x_tr.mean(0), np.maximum(x_tr.std(0), 1e-6)
    x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    settings = LearnerSettings(obs_dim=x_tr.shape[1], n_actions=n_actions, seed=seed)
    policy = BCPolicy(settings)
    rng = np.random.default_rng(seed)
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    for _ in range(updates):
        i = torch.from_numpy(rng.integers(len(x_tr), size=batch))
        policy.update(xt[i], yt[i])
    pred_te = policy.probs(x_te).argmax(-1).numpy()
    pred_tr = policy.probs(x_tr).argmax(-1).numpy()
    recall = {int(a): float((pred_te[y_te == a] == a).mean())
              for a in np.unique(y_te)}
    return policy, mean, std, {"train_accuracy": float((pred_tr == y_tr).mean()),
            "test_accuracy": float((pred_te == y_te).mean()),
            "test_recall": recall,
            "test_predicted_counts": {int(a): int(c) for a, c in
                                      zip(*np.unique(pred_te, return_counts=True), strict=True)}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--game", required=True)
    ap.add_argument("--videos", default=None)
    ap.add_argument("--test-clips", type=int, default=4)
    ap.add_argument("--updates", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--play", type=int, default=0, help="greedy episodes in the env per variant")
    ap.add_argument("--max-steps", type=int, default=None, help="cap per played episode")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    folder = Path(args.videos or f"videos/{args.game}")
    clips = sorted(folder.glob("clip_*.mp4"))
    n_actions = int(make_raw_env(args.game).action_space.n)
    data = [(clip_states(c, args.game)[0], read_expert_actions(c)) for c in clips]
    train_ids = range(len(clips) - args.test_clips)
    result = {"game": args.game, "clips": len(clips), "test_clips": args.test_clips,
              "updates": args.updates, "seed": args.seed, "variants": {}}
    y_all = np.concatenate([a for _, a in data])
    result["action_shares"] = {int(a): float((y_all == a).mean()) for a in np.unique(y_all)}
    for variant in args.variants:
        t0 = time.time()
        xs = [features(s, a, n_actions, variant) for s, a in data]
        x_tr = np.concatenate([xs[i][0] for i in train_ids])
        y_tr = np.concatenate([xs[i][1] for i in train_ids])
        x_te = np.concatenate([x for x, _ in xs[len(train_ids):]])
        y_te = np.concatenate([y for _, y in xs[len(train_ids):]])
        policy, mean, std, res = train_eval(x_tr, y_tr, x_te, y_te, n_actions, args.updates,
                                            args.seed)
        majority = int(np.bincount(y_tr).argmax())
        res["test_majority_accuracy"] = float((y_te == majority).mean())
        res["inputs"] = int(x_tr.shape[1])
        if args.play:
            res["play_greedy"] = play(args.game, policy, mean, std, n_actions, variant,
                                      range(args.play), args.max_steps)
            res["play_greedy_mean"] = float(np.mean([e["return"] for e in res["play_greedy"]]))
        res["seconds"] = round(time.time() - t0, 1)
        result["variants"][variant] = res
        print(variant, json.dumps(res), flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
