"""Fit the Breakout paddle's rest-point gap as a function of its last step (expert design).

    OMP_NUM_THREADS=1 python -m experiments.fit_breakout_rest_gap --seeds 20000-20003

The memoryless expert must decide from what a frame stack shows: the paddle's position and
its last step. In Breakout that step does not tell the hidden rest point: after a press the
paddle lags its rest point by ~11 units in the press's direction, after a release by ~0,
and a step's move overlaps between the two (sticky actions, catching up after a press).
So the expert reads ``rest = paddle + gap(moved)`` with ``gap`` the mean gap seen after
each integer move in play. This script plays the memoryless expert with the table it is
given (``BreakoutConfig.rest_gap``) while a shadow observer tracks the true rest point from
the actions played, bins the gap by the move, and prints the new table and how well each
reading fits (seeds disjoint from the clips 10000+ and the evaluations 0+).
"""

from __future__ import annotations

import argparse

import ale_py
import gymnasium as gym
import numpy as np

from lfo.demonstrations.experts.atari import (
    BREAKOUT_REST_GAP_MOVES,
    BreakoutConfig,
    BreakoutExpert,
    PaddleObserver,
)

gym.register_envs(ale_py)


def seeds_arg(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=seeds_arg, default=seeds_arg("20000-20003"))
    ap.add_argument("--max-steps", type=int, default=3000)
    ap.add_argument("--min-count", type=int, default=5)
    args = ap.parse_args()
    cfg = BreakoutConfig(memoryless=True)
    env = gym.make("ALE/Breakout-v5", max_episode_steps=args.max_steps)
    moved, gap, read_gap = [], [], []
    for seed in args.seeds:
        obs, _ = env.reset(seed=seed)
        expert = BreakoutExpert(seed=seed, config=cfg)
        expert.reset(env)
        shadow = PaddleObserver(cfg.paddle)
        last, prev, done = 0, None, False
        while not done:
            action = expert.act(env, obs)
            pos = float(env.unwrapped.ale.getRAM()[cfg.paddle_x])
            rest = shadow.update(pos, BreakoutExpert.DIRECTION[last])
            if prev is not None:
                moved.append(pos - prev)
                gap.append(rest - pos)
                read_gap.append(expert._observer.rest - pos)
            prev, last = pos, action
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
    moved, gap, read_gap = map(np.asarray, (moved, gap, read_gap))
    lo, hi = BREAKOUT_REST_GAP_MOVES
    table = []
    for m in range(lo, hi + 1):
        s = np.rint(moved) == m
        table.append(round(float(gap[s].mean()), 1) if s.sum() >= args.min_count else None)
    print(f"{len(moved)} steps; |gap error| 50/90/99%: with the table played "
          f"{np.percentile(np.abs(gap - read_gap), [50, 90, 99]).round(1).tolist()}, "
          "released-paddle reading "
          f"{np.percentile(np.abs(gap - moved / 15), [50, 90, 99]).round(1).tolist()}")
    print(f"rest_gap for moves {lo}..{hi} (None: fewer than {args.min_count} steps; "
          f"the reading falls back to a released paddle's):")
    print(tuple(table))


if __name__ == "__main__":
    main()
