"""Breakout, rung 1: which of the expert's decisions does a learner get wrong?

    OMP_NUM_THREADS=1 python -m experiments.breakout_decisions \\
        --runs runs/brk/breakout-r1-oracleiq-lr01clip5-s0 runs/brk/breakout-r1-oraclebc-s0 \\
        --json results/x.json

A ladder diagnostic on privileged-state runs (PRIVILEGED: the phases below are read from
the simulator's state; ORACLE: agreement is measured against the recorded expert actions,
which only evaluation may read). Every run's last checkpoint gives its greedy action on
each expert pair of its clips; the pairs are split by the phase of the ball

- ``serve``: no ball in play;
- ``rising``: the ball moves up (towards the bricks);
- ``falling, N+ steps``: the ball moves down and reaches the paddle's height in N or more
  agent steps (``intercept_steps``), split at 6 and 16;

and per phase the script prints how often the run's greedy action has the expert's effect
(FIRE counts as NOOP while a ball is in play: it does nothing then), how far the paddle is
from the landing point in the expert's own play, and the learner's Q gap (best minus
second best; cloning runs: their logit gap) where it agrees and where it does not. A
learner that agrees as often as cloning overall but less in the last steps before the
ball lands loses the balls cloning returns.

``--play N`` also plays N greedy games per run (evaluation seeds 0.., the run's own world)
and asks the scripted expert that recorded the clips what it would do on every state the
learner reaches (ORACLE, as DAgger's expert queries: the expert's action is a function of
the emulator's state): the same table on the learner's own states, where a learner that
copies the expert's states well may still leave them.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from lfo.algorithms.oracle import expert_pair_actions
from lfo.demonstrations.experts.atari import BreakoutExpert
from lfo.envs.games import make_env
from lfo.envs.privileged import BREAKOUT_STATE, BREAKOUT_STATE_NAMES
from lfo.loop.config import load_run_config
from lfo.loop.policy import load_run
from lfo.loop.trainer import Trainer

NOOP, FIRE, RIGHT, LEFT = 0, 1, 2, 3
#: the scale each Breakout state variable is divided by in the learner's vector
SCALES = np.array([v.scale for v in BREAKOUT_STATE], dtype=np.float64)
PHASES = ("serve", "rising", "falling, 16+ steps", "falling, 6-15 steps", "falling, 0-5 steps")


def effect(actions: np.ndarray, in_play: np.ndarray) -> np.ndarray:
    """What an action does: FIRE is NOOP while a ball is in play (it only serves)."""
    return np.where((actions == FIRE) & in_play, NOOP, actions)


def raw_state(features: np.ndarray, normalizer) -> np.ndarray:
    """Breakout states in their own units from the learner's normalised features. The
    in-play flag is read before un-normalising: a clipped flag (the serve lies ~27 standard
    deviations out) would not come back."""
    scales = SCALES.astype(np.float32)
    raw = (features * normalizer.std + normalizer.mean) * scales
    flag = BREAKOUT_STATE_NAMES.index("ball_in_play")
    threshold = (0.5 / scales[flag] - normalizer.mean[flag]) / normalizer.std[flag]
    if normalizer.clip > 0:  # a clipped serve sits at -clip, in play is near 0
        threshold = max(threshold, -normalizer.clip + 1e-3)
    raw[:, flag] = features[:, flag] > threshold
    return raw


def phase_of(state: np.ndarray) -> np.ndarray:
    """The index in :data:`PHASES` of each raw Breakout state row (N, 13)."""
    col = {n: i for i, n in enumerate(BREAKOUT_STATE_NAMES)}
    in_play = state[:, col["ball_in_play"]] > 0.5
    falling = state[:, col["ball_vy"]] > 0
    steps = state[:, col["intercept_steps"]]
    phase = np.full(len(state), 1)
    phase[falling & (steps >= 16)] = 2
    phase[falling & (steps >= 6) & (steps < 16)] = 3
    phase[falling & (steps < 6)] = 4
    phase[~in_play] = 0
    return phase


def decision_gaps(values: torch.Tensor) -> np.ndarray:
    """Best minus second-best of each row of Q values (or logits)."""
    top = torch.topk(values, 2, dim=1).values
    return (top[:, 0] - top[:, 1]).numpy()


def audit_phases(run_dir: str) -> dict:
    """Per phase: pairs, agreement of the run's greedy action with the expert's effect,
    and the mean decision gap where it agrees / disagrees."""
    trainer = Trainer(load_run_config(run_dir, progress=False))
    if trainer.game != "breakout" or not trainer.privileged:
        raise ValueError(f"{run_dir}: needs a Breakout run on the privileged state")
    trainer.load_checkpoint()
    pairs = trainer.expert
    per_clip = np.bincount(pairs.clip_index, minlength=len(trainer.folder.clips)) + 1
    recorded = expert_pair_actions([c.path for c in trainer.folder.clips], per_clip,
                                   repeat=trainer.cfg.action_repeat)
    raw = raw_state(pairs.obs, trainer.normalizer)
    phase = phase_of(raw)
    in_play = phase > 0
    obs = torch.from_numpy(pairs.obs)
    learner = trainer.learner
    with torch.no_grad():
        values = (learner.agent.q(obs) if hasattr(learner, "agent")
                  else learner.policy.net(obs))
    greedy = values.argmax(dim=1).numpy()
    agree = effect(greedy, in_play) == effect(recorded, in_play)
    gaps = decision_gaps(values)
    rows = {}
    for i, name in enumerate(PHASES):
        m = phase == i
        rows[name] = {
            "pairs": int(m.sum()),
            "agree": float(agree[m].mean()) if m.any() else None,
            "gap_agree": float(gaps[m & agree].mean()) if (m & agree).any() else None,
            "gap_disagree": float(gaps[m & ~agree].mean()) if (m & ~agree).any() else None,
        }
    return {"run": run_dir, "method": trainer.cfg.resolved_method, "step": trainer.step,
            "pairs": len(pairs), "agree": float(agree.mean()), "phases": rows}


def agreement_table(phase: np.ndarray, agree: np.ndarray) -> dict:
    """Per phase: states and the share where the learner's action had the expert's effect."""
    return {name: {"pairs": int((phase == i).sum()),
                   "agree": float(agree[phase == i].mean()) if (phase == i).any() else None}
            for i, name in enumerate(PHASES)}


def audit_own_play(run_dir: str, games: int) -> dict:
    """Greedy games of the run's last learner; on each state it reaches, the scripted
    expert's action (ORACLE query of the full-skill controller) against the learner's."""
    run = load_run(run_dir)
    cfg = run.train_config
    policy = run.policy(greedy=True)
    phases, agrees, returns = [], [], []
    for seed in range(games):
        env = make_env("breakout", observe_state=True, **cfg.agent_env_options())
        expert = BreakoutExpert(skill=1.0, seed=seed)
        obs, _ = env.reset(seed=seed)
        expert.reset(env)
        total, done, steps = 0.0, False, 0
        while not done and (cfg.max_episode_steps is None or steps < cfg.max_episode_steps):
            wanted = expert._policy(env, obs)  # the controller alone: no lapses
            action = int(np.asarray(policy.act_batch(obs[None]))[0])
            state = obs[None].astype(np.float64) * SCALES
            phase = phase_of(state)
            in_play = phase > 0
            phases.append(phase[0])
            agrees.append(bool(effect(np.array([action]), in_play)[0]
                               == effect(np.array([wanted]), in_play)[0]))
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
            steps += 1
        env.close()
        returns.append(total)
    phase, agree = np.array(phases), np.array(agrees)
    return {"run": run_dir, "games": games, "returns": returns, "states": int(len(agree)),
            "agree": float(agree.mean()), "phases": agreement_table(phase, agree)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", required=True)
    ap.add_argument("--play", type=int, default=0,
                    help="greedy games per run on which the expert labels the learner's states")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    out = [audit_phases(r) for r in args.runs]
    if args.play:
        for row in out:
            row["own_play"] = audit_own_play(row["run"], args.play)
    print("| run | method | all | " + " | ".join(PHASES) + " |")
    print("|---|---|---|" + "---|" * len(PHASES))
    for row in out:
        cells = [f"{row['phases'][p]['agree']:.2f} (gap {row['phases'][p]['gap_agree'] or 0:.2f}"
                 f" / {row['phases'][p]['gap_disagree'] or 0:.2f})"
                 if row["phases"][p]["pairs"] else "-" for p in PHASES]
        print(f"| {row['run']} | {row['method']} | {row['agree']:.2f} | "
              + " | ".join(cells) + " |")
    print("pairs per phase: " + ", ".join(f"{p} {out[0]['phases'][p]['pairs']}" for p in PHASES))
    if args.play:
        print("\non the learner's own states (the scripted expert's action as the label):")
        print("| run | games: return | states | all | " + " | ".join(PHASES) + " |")
        print("|---|---|---|---|" + "---|" * len(PHASES))
        for row in out:
            own = row["own_play"]
            cells = [f"{own['phases'][p]['agree']:.2f} ({own['phases'][p]['pairs']})"
                     if own["phases"][p]["pairs"] else "-" for p in PHASES]
            print(f"| {row['run']} | {' '.join(f'{r:.0f}' for r in own['returns'])} | "
                  f"{own['states']} | {own['agree']:.2f} | " + " | ".join(cells) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
