#!/usr/bin/env python
"""Benchmark methods side by side: same videos, features, seeds and env-step budget.

    python scripts/benchmark.py --env carracing --methods iq-idm iq-state-only bco gaifo \
        oracle-bc oracle-iq --seeds 3 --steps 60000 --json results/bench_carracing.json

Methods (lfo.algorithms.methods): iq-idm, iq-state-only, bco, gaifo, and the oracles oracle-iq and
oracle-bc, which use the recorded expert actions (the others never see them). Writes
<out>/results.md (normalised score and return mean +- std over seeds, greedy and sampled,
env steps, wall time; random policy and expert rows), <out>/learning_curves.png,
<out>/results.json and one run folder per (method, seed) (out: runs/bench_<env>); --json
also writes the JSON, table and plot to a place meant to be committed (results/). Runs
already finished in <out> are reused; killed ones resume from their checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from lfo.algorithms.methods import METHODS  # noqa: E402
from lfo.analysis.benchmark import DEFAULT_METHODS, BenchmarkConfig, markdown_table, run_benchmark  # noqa: E402
from lfo.data.video import NoUsableClipError  # noqa: E402


def parse_set(items: list[str]) -> dict:
    """``KEY=VALUE`` pairs; VALUE is read as JSON when it parses (numbers, lists, null)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
        if key == "hidden":
            out[key] = tuple(out[key])
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", required=True, choices=["carracing", "pong", "breakout"])
    p.add_argument("--videos", default=None, help="clip folder (default videos/<env>)")
    p.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS),
                   choices=sorted(METHODS), metavar="METHOD",
                   help=f"any of {', '.join(sorted(METHODS))}")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per method")
    p.add_argument("--steps", type=int, default=60_000, help="env-step budget per run")
    p.add_argument("--eval-every", type=int, default=10_000)
    p.add_argument("--out", default=None,
                   help="run folders and outputs (default runs/bench_<env>)")
    p.add_argument("--json", type=Path, default=None,
                   help="also write the results JSON here, with the table (.md) and the "
                        "plot (.png) beside it")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="TrainConfig fields for every run, e.g. learning_starts=500 hidden=[64]")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    cfg = BenchmarkConfig(
        env=args.env, methods=tuple(args.methods), seeds=args.seeds, steps=args.steps,
        eval_every=args.eval_every, videos=args.videos, out=args.out,
        train_overrides=parse_set(args.set), progress=not args.no_progress,
    )
    argv_used = sys.argv[1:] if argv is None else argv
    command = "python scripts/benchmark.py " + shlex.join(argv_used)
    try:
        rows = run_benchmark(cfg, command=command, json_path=args.json)
    except (NoUsableClipError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(markdown_table(rows))
    print(f"\nwrote {cfg.out_dir / 'results.md'} and {cfg.out_dir / 'learning_curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
