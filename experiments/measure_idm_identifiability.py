"""How identifiable is the expert's action from a pair of encoder features k env steps apart?

EVALUATION ONLY (reads the recorded expert actions). A supervised inverse dynamics model is
trained on the expert pairs (z_t, z_t+k) of clips 0-14, labelled with the most frequent of the
k recorded actions in between, and tested on clips 15-19. This is an upper bound on what an IDM
trained on the agent's own play can label. Features: the shipped encoder on the clips decoded
at 50 Hz (so for k > 1 the frame stack inside each feature is still 50 Hz), or with
``--repeat R`` at 50/R Hz as a run with ``--action-repeat R`` sees them (labels: the most
frequent recorded action of each R-step block; then k counts agent steps).

    OMP_NUM_THREADS=1 .venv/bin/python -m experiments.measure_idm_identifiability \\
        --json results/idm_identifiability_carracing.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from torch.nn import functional as F

import encoders
from encoders.clip_features import clip_features, encoder_view
from lfo.algorithms.idm import IDMConfig, InverseDynamicsModel
from lfo.algorithms.oracle import align_actions
from lfo.data.video import scan_folder
from lfo.demonstrations.labels import read_expert_actions


def pairs_k_apart(feats, acts, k):
    x0, x1, y, owner = [], [], [], []
    for i, (f, a) in enumerate(zip(feats, acts, strict=True)):
        for t in range(len(a) - k + 1):
            x0.append(f[t])
            x1.append(f[t + k])
            y.append(np.bincount(a[t:t + k], minlength=5).argmax())
            owner.append(i)
    return (torch.tensor(np.asarray(x0)), torch.tensor(np.asarray(x1)),
            torch.tensor(np.asarray(y)), np.asarray(owner))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--videos", default="videos/carracing")
    p.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--updates", type=int, default=4000)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(1)
    folder = scan_folder(args.videos)
    enc = encoders.load("default-carracing")
    view = encoder_view(enc, "carracing")
    hz = 50.0 / args.repeat
    feats = [clip_features(c, enc, "carracing", preprocess=view, control_hz=hz)
             for c in folder.clips]
    acts = [read_expert_actions(c.path) for c in folder.clips]
    if args.repeat > 1:
        acts = [align_actions([a], [len(f)], [c.path.name], repeat=args.repeat)
                for a, f, c in zip(acts, feats, folder.clips, strict=True)]
    stacked = np.concatenate(feats)
    mu, sd = stacked.mean(0), stacked.std(0) + 1e-6
    feats = [((f - mu) / sd).astype(np.float32) for f in feats]
    results = {}
    for k in args.ks:
        o, n, y, owner = pairs_k_apart(feats, acts, k)
        test = torch.from_numpy(owner >= 15)
        model = InverseDynamicsModel(IDMConfig(o.shape[1], 5, seed=0))
        rng = np.random.default_rng(0)
        train_idx = np.flatnonzero(~test.numpy())
        for _ in range(args.updates):
            i = torch.from_numpy(rng.choice(train_idx, 256))
            loss = F.cross_entropy(model(o[i], n[i]), y[i])
            model.optimizer.zero_grad()
            loss.backward()
            model.optimizer.step()
        prior = np.bincount(y[test].numpy(), minlength=5).max() / int(test.sum())
        results[k] = dict(test_acc=model.accuracy(o[test], n[test], y[test]),
                          train_acc=model.accuracy(o[~test], n[~test], y[~test]),
                          prior=float(prior))
        print(k, results[k], flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
