"""Evaluate a trained agent under distribution shift: a table, a bar chart and JSON.

    lfo-shift-eval --run runs/carracing-idm-s0
    lfo-shift-eval --run runs/carracing-idm-s0 --shifts unseen-tracks \\
        --video-runs runs/carracing-idm-fps25-s0 runs/carracing-idm-up2x-s0 --json out.json
    lfo-shift-eval --list-shifts          # every named shift

Writes <run>/shift_eval/shift_eval.{md,png,json} (or --out DIR): per row the mean +- std
return over the episode seeds, greedy and sampled, and its ratio to the in-distribution
return. Env shifts come from lfo.shifts.registry; --video-runs adds runs trained with
`lfo-train --video-shift NAME`, evaluated in-distribution on the same seeds.

`python scripts/shift_eval.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import sys

import tyro

from lfo.analysis.shift_eval import ShiftEvalConfig, markdown_table, shift_eval
from lfo.shifts.registry import describe_all


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(ShiftEvalConfig, args=argv, description=__doc__)
    if cfg.list_shifts:
        print(describe_all())
        return 0
    try:
        result = shift_eval(cfg)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(markdown_table(result))
    print(f"\nwritten: {result['out']}/shift_eval.md, shift_eval.png, shift_eval.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
