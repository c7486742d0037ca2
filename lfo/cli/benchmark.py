"""Benchmark methods side by side: same videos, features, seeds and env-step budget.

    lfo-benchmark --env carracing --methods iq-idm iq-state-only bco gaifo \\
        oracle-bc oracle-iq --seeds 0 1 2 --steps 60000 --json results/bench_carracing.json
    lfo-benchmark --env pong --methods gaifo --run.learner.lr 1e-3 \\
        --run.learning-starts 500

Writes <out>/results.md (normalised score and return mean +- std over seeds, greedy and
sampled, env steps, wall time; random policy and expert rows), <out>/learning_curves.png,
<out>/results.json and one run folder per (method, seed) (out: runs/bench_<env>); --json
also writes the JSON, table and plot to a place meant to be committed (results/). Runs
already finished in <out> are reused; killed ones resume from their checkpoint. Every
training setting is settable for all runs as --run.<setting> (see lfo-train --help).

`python scripts/benchmark.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import shlex
import sys

import tyro

from lfo.analysis.benchmark import BenchmarkConfig, markdown_table, run_benchmark
from lfo.data.video import NoUsableClipError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cfg = tyro.cli(BenchmarkConfig, args=argv, description=__doc__)
    command = "python scripts/benchmark.py " + shlex.join(argv)
    try:
        rows = run_benchmark(cfg, command=command)
    except (NoUsableClipError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(markdown_table(rows))
    print(f"\nwrote {cfg.out_dir / 'results.md'} and {cfg.out_dir / 'learning_curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
