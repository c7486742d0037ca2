#!/usr/bin/env python
"""Measure the pixel-chain toy (lfo.testing.pixel_chain) under every in-memory video shift and slip.

    OMP_NUM_THREADS=1 python -m experiments.measure_toy_shifts [--seeds 5]

Prints, per training condition, the normalised score (0 random, 1 expert, both in the clean
chain) of the greedy and sampled policy in the clean chain and with slip 0.1, per seed.
The numbers behind the thresholds in tests/test_shifts.py (notes/shifts.md).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lfo.testing import pixel_chain as tp

SHIFTS = (None, "up2x", "letterbox", "fps25", "fps60", "color", "crop")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(1)
    world = tp.PixelChain()
    random, expert = tp.reference_returns(world)
    slip_expert = tp.mean_return(world, lambda s: tp.RIGHT, slip=0.1, episodes=50, seed=2)
    print(f"random {random:.2f}, expert {expert:.2f}; expert under slip 0.1: score "
          f"{tp.score(slip_expert, random, expert):.3f}")
    print("| trained from | greedy | sampled | greedy, slip 0.1 | sampled, slip 0.1 | s/run |")
    print("|---|---|---|---|---|---|")
    for shift in SHIFTS:
        rows, t0 = [], time.time()
        for seed in range(args.seeds):
            agent = tp.train_toy(world, tp.ToyRunConfig(video_shift=shift, seed=seed))
            values = (
                tp.mean_return(world, agent.policy(True), episodes=1),
                tp.mean_return(world, agent.policy(False), episodes=50, seed=1),
                tp.mean_return(world, agent.policy(True), slip=0.1, episodes=50, seed=2),
                tp.mean_return(world, agent.policy(False), slip=0.1, episodes=50, seed=3),
            )
            rows.append([tp.score(v, random, expert) for v in values])
        r = np.array(rows)
        cells = [" ".join(f"{v:.2f}" for v in r[:, i]) for i in range(4)]
        secs = (time.time() - t0) / args.seeds
        print(f"| {shift or 'clean'} | " + " | ".join(cells) + f" | {secs:.1f} |")


if __name__ == "__main__":
    main()
