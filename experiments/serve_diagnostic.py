"""Breakout, rung 1: how much of a run's score does the serve decide?

    OMP_NUM_THREADS=1 python -m experiments.serve_diagnostic \\
        --runs runs/brk/breakout-r1-oracleiq-const-s0 --episodes 5 --json results/x.json

A ladder diagnostic on privileged-state runs (PRIVILEGED: the serve is read from the
simulator's ``ball_in_play`` flag). Each run's last checkpoint plays ``--episodes`` greedy
games on evaluation seeds 0.. in its own world, twice: as it is, and with a serve helper
that presses FIRE whenever no ball is in play (the agent decides every other step). The
gap between the two is what the agent loses by not serving; the helped score is how well
it plays once the ball is in play. Also printed: on the run's expert pairs where no ball
is in play, Q of each action (the serve is one state in ~900 of the clips).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from lfo.envs.evaluate import evaluate, normalised_score
from lfo.envs.games import get_game
from lfo.envs.privileged import state_variables
from lfo.loop.policy import EncodedPolicy, RunPolicy, load_run

FIRE = 1


class ServeHelper:
    """A greedy run policy whose action is FIRE wherever the raw state says no ball is in
    play (Breakout's serve); counts how often it stepped in."""

    def __init__(self, policy: EncodedPolicy, flag_index: int) -> None:
        self.policy, self.flag_index, self.fired = policy, flag_index, 0

    def act_batch(self, obs: np.ndarray) -> np.ndarray:
        raw = self.policy.encoder.encode(obs)
        actions = np.asarray(self.policy.agent.act(self.policy.normalizer(raw), greedy=True))
        waiting = raw[:, self.flag_index] == 0
        self.fired += int(waiting.sum())
        return np.where(waiting, FIRE, actions)


def play(run: RunPolicy, episodes: int) -> dict:
    """Greedy returns with and without the serve helper, and their normalised scores."""
    if run.game != "breakout" or not run.privileged:
        raise ValueError(f"{run.folder}: needs a Breakout run on the privileged state "
                         f"(state-breakout); got {run.game} on {run.config.get('encoder')}")
    cfg = run.train_config
    flag = [v.name for v in state_variables("breakout")].index("ball_in_play")
    kw = dict(env_options=cfg.agent_env_options(), max_steps=cfg.max_episode_steps,
              observe_state=True)
    seeds = list(range(episodes))
    plain = evaluate("breakout", run.policy(greedy=True), seeds, mode="greedy", **kw)
    helper = ServeHelper(run.policy(greedy=True), flag)
    helped = evaluate("breakout", helper, seeds, mode="greedy", **kw)
    expert, random = run.final.get("expert_return"), run.final.get("random_return")
    out = {"run": str(run.folder), "episodes": episodes,
           "greedy": plain.returns.tolist(), "greedy_served": helped.returns.tolist(),
           "helper_fired": helper.fired,
           "lengths": [e.length for e in plain.episodes]}
    if expert is not None and random is not None:
        out["score"] = normalised_score(plain.mean, random, expert)
        out["score_served"] = normalised_score(helped.mean, random, expert)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", required=True)
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    get_game("breakout")
    rows = []
    for folder in args.runs:
        row = play(load_run(folder), args.episodes)
        rows.append(row)
        print(f"{folder}: greedy {np.mean(row['greedy']):.1f} (score {row.get('score', 0):.2f})"
              f", with the serve pressed {np.mean(row['greedy_served']):.1f} "
              f"(score {row.get('score_served', 0):.2f}); the helper pressed FIRE "
              f"{row['helper_fired']} times; episode lengths {row['lengths']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
