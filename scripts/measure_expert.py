#!/usr/bin/env python
"""Measure a scripted expert's (or a uniformly random policy's) return on seeded episodes.

    python scripts/measure_expert.py --env carracing --seeds 10000-10009
    python scripts/measure_expert.py --env carracing --seeds 10000-10004 --skill 0.7
    python scripts/measure_expert.py --env carracing --seeds 10000-10004 --random

Plays each seed with the same rollout the recorder uses
(``lfo.demonstrations.recorder.record_episode``)
and prints one line per episode (seed, return, length, how it ended) and the mean.
The random policy draws ``integers(n_actions)`` from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np  # noqa: E402

from lfo.demonstrations.recorder import record_episode  # noqa: E402
from lfo.envs.games import make_raw_env  # noqa: E402


def parse_seeds(text: str) -> list[int]:
    """``"10000-10009"`` or ``"0,3,7"`` (or a mix: ``"0-4,10"``) -> list of seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds.extend(range(int(lo), int(hi or lo) + 1))
    return seeds


def random_episode(game: str, seed: int, max_steps: int | None) -> tuple[float, int, bool]:
    """Return, length and ``terminated`` of one uniformly random episode."""
    env = make_raw_env(game)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    total, steps, terminated, truncated = 0.0, 0, False, False
    while not (terminated or truncated):
        _, reward, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        total += float(reward)
        steps += 1
        truncated = truncated or (max_steps is not None and steps >= max_steps)
    env.close()
    return total, steps, bool(terminated)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", required=True, help="carracing | pong | breakout")
    p.add_argument("--seeds", default="10000-10009", help="e.g. 10000-10009 or 0,1,2")
    p.add_argument("--skill", type=float, default=1.0, help="expert skill in [0, 1]")
    p.add_argument("--random", action="store_true", help="uniformly random policy instead")
    p.add_argument("--max-steps", type=int, default=None, help="cap on episode length")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)

    who = "random" if args.random else f"expert skill={args.skill}"
    rows = []
    for seed in parse_seeds(args.seeds):
        start = time.perf_counter()
        if args.random:
            ret, length, terminated = random_episode(args.env, seed, args.max_steps)
        else:
            ep = record_episode(args.env, seed=seed, skill=args.skill, max_steps=args.max_steps)
            ret, length, terminated = ep.episode_return, ep.length, ep.terminated
        secs = time.perf_counter() - start
        rows.append({"seed": seed, "return": ret, "length": length, "terminated": terminated})
        end = "terminated" if terminated else "truncated"
        print(
            f"{args.env} {who} seed {seed}: return {ret:8.1f}  length {length:5d}  "
            f"{end}  ({length / secs:.0f} steps/s)",
            flush=True,
        )
    returns = np.array([r["return"] for r in rows])
    print(
        f"{args.env} {who} seeds {args.seeds}: mean {returns.mean():.1f} "
        f"std {returns.std():.1f} min {returns.min():.1f} max {returns.max():.1f}"
    )
    if args.json:
        summary = {
            "env": args.env,
            "policy": who,
            "seeds": args.seeds,
            "episodes": rows,
            "mean_return": float(returns.mean()),
        }
        args.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
