"""Does one more step of context let an IDM trained on the agent's play label the expert?

EVALUATION ONLY (reads the recorded expert actions to score the labels). From a finished
iq-idm run: its replay (the agent's own transitions, as the run's IDM saw them) and its
expert pairs. Two inverse dynamics models of the run's size are trained from scratch on
the same agent transitions, with the same steps and batches:

- ``one pair``: p(a_t | z_t, z_t+1), the run's own form ([z, z' - z]);
- ``two pairs``: p(a_t | z_t, z_t+1, z_t+2) ([z, z' - z, z'' - z']), where z_t+2 is the
  same env's next observation. In the replay a vector step adds one transition per env in
  env order, so env i's next transition lies ``num_envs`` entries later; a transition
  counts only where that entry starts from its ``z'`` exactly (not after a reset).

Both are scored on the expert pairs that have a successor in their clip (each clip's last
pair is dropped for both), against the recorded actions: accuracy, recall per action, and
the confusion. The question it answers: CarRacing's rung-2 IDM mislabels the expert's
gas as a steer after a steer (the wheel returns to centre at the motor's capped speed
whether the expert lets go or counter-steers, and one step of gas is below the speed
estimate's noise); whether a second step tells them apart. Beside them:

- ``prior-corrected``: an IDM estimates p(a | z, z') under the agent's behaviour, so the
  agent's habits are its prior. A behaviour model p_b(a | z) fitted on the same replay
  turns the one-pair IDM's posterior into a likelihood (posterior / p_b, floored at
  0.05), and the expert's action frequencies are estimated from the expert pairs
  themselves by EM (Saerens et al. 2002, priors under label shift), no label read;
- ``supervised on the expert`` (an upper bound, labels read): the one-pair form trained
  on the recorded actions of all clips but the last, scored on the last;
- what follows a steer in the agent's play and in the expert's.

    OMP_NUM_THREADS=1 python -m experiments.measure_idm_context \\
        --run runs/fewclips/carracing-5clips-s0 --json results/idm_context_carracing.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from lfo.algorithms.idm import IDMConfig, InverseDynamicsModel
from lfo.algorithms.label_shift import (
    LabelShiftConfig,
    LabelShiftCorrection,
    em_prior_step,
    likelihood_from_posterior,
    posterior_under_prior,
)
from lfo.algorithms.oracle import expert_pair_actions  # evaluation: reads the labels
from lfo.analysis.label_audit import audit
from lfo.loop.config import load_run_config
from lfo.loop.trainer import Trainer


def agent_successors(replay, num_envs: int) -> np.ndarray:
    """For each replay transition, the index of the same env's next transition when it
    starts from this one's z' (the same episode), else -1."""
    n = len(replay)
    k = np.arange(n) + num_envs
    ok = k < n
    ok[ok] = np.all(replay.obs[k[ok]] == replay.next_obs[:n][ok], axis=1)
    return np.where(ok, k, -1)


def agent_triples(replay, num_envs: int) -> tuple[np.ndarray, ...]:
    """(z, z', z'', a) for every non-terminal replay transition with a successor
    (:func:`agent_successors`), in the buffer's stored order."""
    follows = agent_successors(replay, num_envs)
    j = np.flatnonzero((follows >= 0) & (replay.done[: len(follows)] == 0))
    k = follows[j]
    return replay.obs[j], replay.next_obs[j], replay.next_obs[k], replay.action[j]


def expert_triples(pairs) -> tuple[np.ndarray, np.ndarray]:
    """Indices of expert pairs with a successor pair in the same clip, and the successors."""
    i = np.arange(len(pairs) - 1)
    keep = pairs.clip_index[i] == pairs.clip_index[i + 1]
    return i[keep], i[keep] + 1


def train_idm(x: torch.Tensor, y: torch.Tensor, n_actions: int, hidden: tuple[int, ...],
              lr: float, steps: int, batch: int, seed: int) -> InverseDynamicsModel:
    """An IDM-shaped classifier on pre-built inputs ``x`` of even width (the network sees
    both halves together, so any input layout fits the two-argument interface)."""
    model = InverseDynamicsModel(IDMConfig(x.shape[1] // 2, n_actions, hidden=hidden, lr=lr,
                                           input_mode="concat", seed=seed))
    gen = torch.Generator().manual_seed(seed)
    half = x.shape[1] // 2
    for _ in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=gen)
        model.update(x[idx, :half], x[idx, half:], y[idx])
    return model


def behaviour_model(obs: torch.Tensor, action: torch.Tensor, n_actions: int,
                    hidden: tuple[int, ...], lr: float, steps: int, batch: int,
                    seed: int) -> LabelShiftCorrection:
    """p_b(a | z): the agent's behaviour on its replay (the learner's own behaviour model,
    :class:`~lfo.algorithms.label_shift.LabelShiftCorrection`, trained to the end here)."""
    model = LabelShiftCorrection(LabelShiftConfig(obs.shape[1], n_actions, hidden=hidden,
                                                  lr=lr, seed=seed))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(obs), (batch,), generator=gen)
        model.update(obs[idx], action[idx])
    return model


def em_prior(likelihood: torch.Tensor, iterations: int = 100) -> tuple[torch.Tensor, ...]:
    """Class frequencies w of unlabelled samples from per-sample likelihoods (N, A), by
    full-batch EM from uniform; returns (w, the posteriors under w)."""
    w = torch.full((likelihood.shape[1],), 1.0 / likelihood.shape[1])
    for _ in range(iterations):
        w, _ = em_prior_step(likelihood, w)
    return w, posterior_under_prior(likelihood, w)


def next_action_after_steer(actions: np.ndarray, follows: np.ndarray,
                            n_actions: int) -> dict[str, list[float]]:
    """For steer actions 1 and 2: the frequency of each next action, where ``follows[i]``
    is the index of the next action of the same episode (or -1)."""
    out = {}
    for steer in (1, 2):
        m = (actions == steer) & (follows >= 0)
        counts = np.bincount(actions[follows[m]], minlength=n_actions)
        out[f"after {steer}"] = (counts / max(1, counts.sum())).round(3).tolist()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="a finished iq-idm run folder")
    ap.add_argument("--steps", type=int, default=15000, help="IDM updates per model")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.manual_seed(args.seed)

    trainer = Trainer(load_run_config(args.run, progress=False))
    trainer.load_checkpoint()
    pairs = trainer.expert
    per_clip = np.bincount(pairs.clip_index, minlength=len(trainer.folder.clips)) + 1
    recorded = expert_pair_actions([c.path for c in trainer.folder.clips], per_clip,
                                   repeat=trainer.cfg.action_repeat)
    n_actions = trainer.settings.n_actions
    s = trainer.settings
    z, z1, z2, a = agent_triples(trainer.replay, trainer.num_envs)
    first, second = expert_triples(pairs)
    e0, e1, e2 = pairs.obs[first], pairs.next_obs[first], pairs.next_obs[second]
    truth = recorded[first]

    def one(p, q, _r):
        return np.concatenate([p, q - p], axis=1)

    def two(p, q, r):
        # padded with zeros to an even width, so the IDM's two-half interface fits
        x = np.concatenate([p, q - p, r - q], axis=1)
        return np.concatenate([x, np.zeros((len(x), x.shape[1] % 2), np.float32)], axis=1)

    out = {"run": args.run, "agent_transitions": int(len(a)), "expert_pairs": int(len(truth)),
           "idm_steps": args.steps, "batch": args.batch, "models": {}}
    for name, build in (("one pair", one), ("two pairs", two)):
        x = torch.from_numpy(build(z, z1, z2).astype(np.float32))
        model = train_idm(x, torch.from_numpy(a), n_actions, tuple(s.idm_hidden), s.idm_lr,
                          args.steps, args.batch, args.seed)
        xe = torch.from_numpy(build(e0, e1, e2).astype(np.float32))
        half = xe.shape[1] // 2
        guessed = model.label(xe[:, :half], xe[:, half:], soft=False).numpy()
        result = audit(guessed, truth, n_actions).to_dict()
        out["models"][name] = result
        print(f"{name:10s} accuracy {result['accuracy']:.3f} (most frequent "
              f"{result['prior_accuracy']:.3f}); recall "
              f"{' '.join(f'{r:.2f}' for r in result['recall'])}; confusion {result['confusion']}")
    # the prior-corrected labels: posterior / behaviour, times the expert's EM prior
    n = len(trainer.replay)
    obs = torch.from_numpy(trainer.replay.obs[:n])
    nxt = torch.from_numpy(trainer.replay.next_obs[:n])
    act = torch.from_numpy(trainer.replay.action[:n])
    one_pair = train_idm(torch.cat([obs, nxt - obs], 1), act, n_actions, tuple(s.idm_hidden),
                         s.idm_lr, args.steps, args.batch, args.seed)
    p_b = behaviour_model(obs, act, n_actions, tuple(s.idm_hidden), s.idm_lr, args.steps,
                          args.batch, args.seed)
    eo, en = torch.from_numpy(pairs.obs), torch.from_numpy(pairs.next_obs)
    with torch.no_grad():
        posterior = one_pair.label(eo, en - eo, soft=True)
        likelihood = likelihood_from_posterior(posterior, p_b.behaviour(eo), floor=0.05)
    w, corrected = em_prior(likelihood)
    result = audit(corrected.argmax(1).numpy(), recorded, n_actions).to_dict()
    result["em_prior"] = w.tolist()
    out["models"]["prior-corrected (all pairs)"] = result
    print(f"prior-corrected accuracy {result['accuracy']:.3f}; recall "
          f"{' '.join(f'{r:.2f}' for r in result['recall'])}; EM prior "
          f"{' '.join(f'{v:.2f}' for v in w.tolist())}")
    # the upper bound: supervised on the expert's own labels, last clip held out
    last = pairs.clip_index == pairs.clip_index.max()
    xs = torch.cat([eo, en - eo], 1)
    sup = train_idm(xs[~last], torch.from_numpy(recorded[~last]), n_actions,
                    tuple(s.idm_hidden), s.idm_lr, args.steps // 2, args.batch, args.seed)
    result = audit(sup.label(eo[last], (en - eo)[last], soft=False).numpy(), recorded[last],
                   n_actions).to_dict()
    out["models"]["supervised on the expert (last clip held out)"] = result
    print(f"supervised on the expert, held-out clip: accuracy {result['accuracy']:.3f}")
    # the two behaviours after a steer
    agent_follows = agent_successors(trainer.replay, trainer.num_envs)
    same_clip = np.r_[pairs.clip_index[1:] == pairs.clip_index[:-1], False]
    expert_follows = np.where(same_clip, np.arange(len(pairs)) + 1, -1)
    out["after_a_steer"] = {
        "agent": next_action_after_steer(trainer.replay.action[:n], agent_follows, n_actions),
        "expert": next_action_after_steer(recorded, expert_follows, n_actions)}
    print("next action after a steer:", out["after_a_steer"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
