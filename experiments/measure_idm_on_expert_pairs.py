"""Do IDMs trained on a run's own replay label the expert pairs right?

EVALUATION ONLY (reads the recorded expert actions). Loads a finished run (its replay and
expert pairs), trains fresh inverse dynamics models on the replay as iq-idm does (variants:
[s, s'-s] or [s, s'] inputs, class-balanced loss, weight decay), and scores their labels on
every expert pair; then a supervised IDM on the expert pairs of clips 0-14 scored on 15-19.

    OMP_NUM_THREADS=1 .venv/bin/python -m experiments.measure_idm_on_expert_pairs \\
        runs/carracing-idm-s0 --json results/idm_offline_carracing_60k.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from torch.nn import functional as F

from lfo.algorithms.idm import IDMConfig, InverseDynamicsModel
from lfo.algorithms.oracle import expert_pair_actions
from lfo.analysis.label_audit import audit
from lfo.loop.config import load_run_config
from lfo.loop.trainer import Trainer

VARIANTS = {
    "diff": {},
    "diff-balanced": {"balanced": True},
    "concat": {"mode": "concat"},
    "diff-balanced-wd": {"balanced": True, "wd": 1e-3},
}


def fit(obs, nxt, act, n_actions, updates, mode="diff", balanced=False, wd=0.0, seed=0):
    model = InverseDynamicsModel(IDMConfig(obs.shape[1], n_actions, input_mode=mode,
                                           weight_decay=wd, seed=seed))
    rng = np.random.default_rng(seed)
    weight = None
    if balanced:
        freq = torch.bincount(act, minlength=n_actions).float().clamp(min=1)
        weight = len(act) / (n_actions * freq)
    for _ in range(updates):
        i = torch.from_numpy(rng.integers(0, len(act), 256))
        loss = F.cross_entropy(model(obs[i], nxt[i]), act[i], weight=weight)
        model.optimizer.zero_grad()
        loss.backward()
        model.optimizer.step()
    return model


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--updates", type=int, default=4000)
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(1)
    trainer = Trainer(load_run_config(args.run, progress=False))
    trainer.load_checkpoint()
    pairs, replay, n_actions = trainer.expert, trainer.replay, trainer.settings.n_actions
    lengths = np.bincount(pairs.clip_index, minlength=len(trainer.folder.clips)) + 1
    recorded = expert_pair_actions([c.path for c in trainer.folder.clips], lengths,
                                   repeat=trainer.cfg.action_repeat)
    n = len(replay)
    ro, rn, ra = (torch.from_numpy(x[:n]) for x in (replay.obs, replay.next_obs, replay.action))
    eo, en = torch.from_numpy(pairs.obs), torch.from_numpy(pairs.next_obs)
    results = {"agent_action_frequency": (np.bincount(replay.action[:n], minlength=n_actions)
                                          / n).tolist()}
    for name, kw in VARIANTS.items():
        model = fit(ro, rn, ra, n_actions, args.updates, **kw)
        a = audit(model.label(eo, en, soft=False).numpy(), recorded, n_actions)
        results[name] = dict(agent_acc=model.accuracy(ro[-5000:], rn[-5000:], ra[-5000:]),
                             expert_acc=a.accuracy, recall=a.recall, guessed=a.guessed_frequency)
        print(name, json.dumps(results[name]), flush=True)
    test = pairs.clip_index >= 15
    model = fit(eo[~test], en[~test], torch.from_numpy(recorded[~test]), n_actions, args.updates)
    a = audit(model.label(eo[test], en[test], soft=False).numpy(), recorded[test], n_actions)
    results["expert-supervised-heldout"] = dict(expert_acc=a.accuracy, prior=a.prior_accuracy,
                                                recall=a.recall)
    print("expert-supervised-heldout", json.dumps(results["expert-supervised-heldout"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
