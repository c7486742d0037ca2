"""Measure a scripted expert's (or a uniformly random policy's) return on seeded episodes.

    lfo-measure-expert --env carracing --seeds 10000 10001 10002
    lfo-measure-expert --env carracing --seeds 10000 10001 --skill 0.7
    lfo-measure-expert --env carracing --random

Plays each seed with the same rollout the recorder uses
(lfo.demonstrations.recorder.record_episode) and prints one line per episode (seed,
return, length, how it ended) and the mean. The random policy draws integers(n_actions)
from numpy.random.default_rng(seed).

`python scripts/measure_expert.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import tyro

from lfo.demonstrations.recorder import MeasureConfig, random_episode, record_episode


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(MeasureConfig, args=argv, description=__doc__)
    if not cfg.seeds:
        print("error: no seeds given (--seeds S [S ...])", file=sys.stderr)
        return 1
    who = "random" if cfg.random else f"expert skill={cfg.skill}"
    rows = []
    for seed in cfg.seeds:
        start = time.perf_counter()
        if cfg.random:
            ret, length, terminated = random_episode(cfg.env, seed, cfg.max_episode_steps)
        else:
            ep = record_episode(cfg.env, seed=seed, skill=cfg.skill,
                                max_steps=cfg.max_episode_steps)
            ret, length, terminated = ep.episode_return, ep.length, ep.terminated
        secs = time.perf_counter() - start
        rows.append({"seed": seed, "return": ret, "length": length, "terminated": terminated})
        end = "terminated" if terminated else "truncated"
        print(
            f"{cfg.env} {who} seed {seed}: return {ret:8.1f}  length {length:5d}  "
            f"{end}  ({length / secs:.0f} steps/s)",
            flush=True,
        )
    returns = np.array([r["return"] for r in rows])
    print(
        f"{cfg.env} {who} seeds {cfg.seeds[0]}..{cfg.seeds[-1]} ({len(cfg.seeds)}): "
        f"mean {returns.mean():.1f} std {returns.std():.1f} min {returns.min():.1f} "
        f"max {returns.max():.1f}"
    )
    if cfg.json:
        summary = {
            "env": cfg.env,
            "policy": who,
            "seeds": list(cfg.seeds),
            "episodes": rows,
            "mean_return": float(returns.mean()),
        }
        cfg.json.parent.mkdir(parents=True, exist_ok=True)
        cfg.json.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
