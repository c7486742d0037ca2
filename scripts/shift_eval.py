#!/usr/bin/env python
"""Evaluate a trained agent under distribution shift: a table, a bar chart and JSON.

    python scripts/shift_eval.py --run runs/carracing-idm-s0
    python scripts/shift_eval.py --run runs/carracing-idm-s0 --shifts unseen-tracks \
        --video-runs runs/carracing-idm-fps25-s0 runs/carracing-idm-up2x-s0 --json out.json
    python scripts/shift_eval.py --list          # every named shift

Writes <run>/shift_eval/shift_eval.{md,png,json} (or --out DIR): per row the mean +- std
return over the episode seeds, greedy and sampled, and its ratio to the in-distribution
return. Env shifts come from lfo.shifts.registry; --video-runs adds runs trained with
`train_lfo.py --video-shift NAME`, evaluated in-distribution on the same seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from lfo.analysis.shift_eval import MODES, ShiftEvalConfig, markdown_table, shift_eval  # noqa: E402
from lfo.shifts.registry import describe_all  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="run folder of the agent (trained on clean videos)")
    p.add_argument("--shifts", nargs="+", default=None,
                   help="env shift names (default: all of the game's; see --list)")
    p.add_argument("--episodes", type=int, default=10, help="episodes (seeds) per row and mode")
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--max-steps", type=int, default=None,
                   help="cap on episode length (default: the run's max_episode_steps)")
    p.add_argument("--video-runs", nargs="+", type=Path, default=[],
                   help="runs trained with --video-shift, compared in-distribution")
    p.add_argument("--out", type=Path, default=None, help="output folder (default RUN/shift_eval)")
    p.add_argument("--json", type=Path, default=None, help="also write the results JSON here")
    p.add_argument("--list", action="store_true", help="print every named shift and exit")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.list:
        print(describe_all())
        return 0
    if args.run is None:
        p.error("--run is required (or --list)")
    cfg = ShiftEvalConfig(run=args.run, shifts=tuple(args.shifts) if args.shifts else None,
                          episodes=args.episodes, modes=tuple(args.modes),
                          max_steps=args.max_steps, video_runs=tuple(args.video_runs),
                          out=args.out, progress=not args.no_progress)
    try:
        result = shift_eval(cfg)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(markdown_table(result))
    print(f"\nwritten: {result['out']}/shift_eval.md, shift_eval.png, shift_eval.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
