"""Can a critic tell the expert's features from the agent's by the codec alone? (diagnostic)

    OMP_NUM_THREADS=1 python -m experiments.codec_gap_features --game pong --clips 4 \
        --json results/codec_gap_pong.json

On rung 2 the expert's states are the estimator's reading of *decoded* clips (H.264), the
agent's the reading of *clean* live frames. If the two readings of the same state differ
systematically, IQ's Q-function can separate expert from agent by the codec instead of by
behaviour. For each clip this replays the recorded actions (EVALUATION ONLY: it reads the
expert's actions, as the probe does) to render the same states cleanly, encodes both frame
stacks with the estimator, and reports per state variable the mean and spread of
``decoded - clean`` (against the variable's own spread), and the held-out accuracy of a
logistic-regression classifier told to separate decoded from clean features (0.5: the
codec leaves no trace a critic could use).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

import encoders
from encoders.clip_features import encoder_view
from lfo.analysis.state_probe import encode_clips, expert_state_clips
from lfo.data.sidecar import sidecar_path
from lfo.demonstrations.labels import read_expert_actions
from lfo.envs.games import get_game, make_raw_env, wrap_preprocess
from lfo.envs.privileged import state_variables


def clean_stacks(clip: Path, game: str, view) -> np.ndarray:
    """The clip's frame stacks rendered live from its seed and recorded actions."""
    meta = json.loads(sidecar_path(clip).read_text())
    spec = get_game(game)
    options = {k: v for k, v in meta.get("env_kwargs", {}).items()
               if k not in spec.kwargs or spec.kwargs[k] != v}
    env = wrap_preprocess(make_raw_env(spec.name, **options), view)
    obs, _ = env.reset(seed=int(meta["seed"]))
    stacks = [obs]
    for a in read_expert_actions(clip):
        obs, *_ = env.step(int(a))
        stacks.append(obs)
    env.close()
    return np.stack(stacks)


def separability(a: np.ndarray, b: np.ndarray, seed: int = 0, steps: int = 2000) -> float:
    """Held-out accuracy (balanced) of logistic regression separating rows of a from b."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([a, b]).astype(np.float32)
    y = np.concatenate([np.ones(len(a)), np.zeros(len(b))]).astype(np.float32)
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    idx = rng.permutation(len(x))
    cut = int(0.8 * len(x))
    tr, te = idx[:cut], idx[cut:]
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    w = torch.zeros(x.shape[1], requires_grad=True)
    b0 = torch.zeros((), requires_grad=True)
    opt = torch.optim.Adam([w, b0], lr=0.05)
    for _ in range(steps):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt[tr] @ w + b0, yt[tr])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = (xt[te] @ w + b0) > 0
    return float((pred == yt[te].bool()).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--game", default="pong")
    ap.add_argument("--videos", default=None)
    ap.add_argument("--encoder", default=None, help="state estimator (default: the game's)")
    ap.add_argument("--clips", type=int, default=4, help="first N clips of the folder")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    est = encoders.load(args.encoder or f"default-{args.game}")
    names = tuple(v.name for v in state_variables(args.game))
    clips = expert_state_clips(args.videos or f"videos/{args.game}", args.game)[: args.clips]
    decoded = encode_clips(est, clips, args.game)
    view = encoder_view(est, args.game)
    clean = [est.encode(clean_stacks(Path(c.path), args.game, view)) for c in clips]
    d, c = np.concatenate(decoded), np.concatenate(clean)
    truth = np.concatenate([c_.states for c_ in clips])
    valid = np.concatenate([c_.valid for c_ in clips])
    rows = {}
    for j, n in enumerate(names):
        m = valid[:, j]
        diff = d[m, j] - c[m, j]
        rows[n] = {"mean_decoded_minus_clean": float(diff.mean()), "std_diff": float(diff.std()),
                   "std_variable": float(truth[m, j].std()),
                   "rmse_decoded": float(np.sqrt(np.mean((d[m, j] - truth[m, j]) ** 2))),
                   "rmse_clean": float(np.sqrt(np.mean((c[m, j] - truth[m, j]) ** 2)))}
        r = rows[n]
        print(f"{n:14s} decoded-clean mean {r['mean_decoded_minus_clean']:+.4f} std "
              f"{r['std_diff']:.4f} (variable std {r['std_variable']:.4f}); rmse decoded "
              f"{r['rmse_decoded']:.4f} clean {r['rmse_clean']:.4f}")
    acc = separability(d, c)
    print(f"logistic regression decoded vs clean, held-out accuracy {acc:.3f} "
          f"({len(d)} pairs of {len(clips)} clips)")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"game": args.game, "encoder": est.spec.name, "clips": [str(c_.path) for c_ in clips],
             "pairs": int(len(d)), "separability_accuracy": acc, "variables": rows},
            indent=1) + "\n")


if __name__ == "__main__":
    main()
