#!/usr/bin/env python
"""Benchmark learning-from-video variants: several seeds each, one results table.

    python scripts/benchmark.py --videos videos/carracing --variants idm state-only \
        --seeds 3 --steps 60000 --out results/bench_carracing

Writes <out>/results.json, <out>/results.md (mean +- std over seeds of greedy and
sampled return, normalised score, env steps, wall time) and one run folder per
(variant, seed) with its own logs and plots.
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

from lfo.train import TrainConfig, train  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", required=True)
    p.add_argument("--variants", nargs="+", default=["idm", "state-only"])
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per variant")
    p.add_argument("--steps", type=int, default=60_000)
    p.add_argument("--eval-every", type=int, default=10_000)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    rows = []
    for variant in args.variants:
        for seed in range(args.seeds):
            start = time.time()
            cfg = TrainConfig(videos=args.videos, variant=variant, seed=seed, steps=args.steps,
                              eval_every=args.eval_every, out=str(args.out / f"{variant}-s{seed}"))
            summary = train(cfg)
            rows.append({"variant": variant, "seed": seed, "wall_s": time.time() - start,
                         **{k: v for k, v in summary.items() if k != "episodes"}})
            (args.out / "results.json").write_text(json.dumps(rows, indent=1, default=float))
    table = markdown_table(rows)
    (args.out / "results.md").write_text(
        f"Command: `python scripts/benchmark.py {' '.join(argv or sys.argv[1:])}`\n\n{table}\n")
    print(table)
    return 0


def markdown_table(rows: list[dict]) -> str:
    """One line per variant: mean +- std over seeds."""
    def ms(values) -> str:
        v = np.asarray(values, dtype=float)
        return f"{np.nanmean(v):.2f} +- {np.nanstd(v):.2f}"

    lines = ["| variant | seeds | sampled return | greedy return | sampled score | greedy score "
             "| env steps | wall time (min) |", "|---|---|---|---|---|---|---|---|"]
    for variant in dict.fromkeys(r["variant"] for r in rows):
        rs = [r for r in rows if r["variant"] == variant]
        lines.append(
            f"| {variant} | {len(rs)} | {ms([r['sampled_mean'] for r in rs])} "
            f"| {ms([r['greedy_mean'] for r in rs])} | {ms([r['sampled_score'] for r in rs])} "
            f"| {ms([r['greedy_score'] for r in rs])} | {rs[0]['steps']} "
            f"| {ms([r['wall_s'] / 60 for r in rs])} |")
    if rows:
        lines.append(f"\nexpert (videos) {rows[0]['expert_return']:.1f}, "
                     f"random {rows[0]['random_return']:.1f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
