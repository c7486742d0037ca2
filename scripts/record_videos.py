#!/usr/bin/env python
"""Record demonstration videos with a scripted privileged expert.

    python scripts/record_videos.py --env carracing --episodes 20 --out videos/carracing

Writes clip_000.mp4 (RGB observations at the env's control rate, no action channel) and
clip_000.json (env, seed, skill, return, length, fps, and the expert's actions, which
exist for evaluation and oracle baselines only) per episode, plus recording.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from lfo.demonstrations.recorder import RecordConfig, record_videos  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", required=True, help="carracing | pong | breakout")
    p.add_argument("--episodes", type=int, default=20, help="number of clips")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--seed", type=int, default=10_000,
                   help="env seed of the first clip (clip i uses seed+i); 10000+ is the "
                        "demonstration range, 0-9999 is kept for evaluation")
    p.add_argument("--skill", type=float, default=1.0, help="expert skill in [0, 1]")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate written to the file (default: the env's control rate)")
    p.add_argument("--crf", type=int, default=20, help="H.264 quality, lower is better")
    p.add_argument("--max-steps", type=int, default=None, help="cap on episode length")
    args = p.parse_args(argv)
    cfg = RecordConfig(game=args.env, episodes=args.episodes, out=args.out, seed=args.seed,
                       skill=args.skill, fps=args.fps, crf=args.crf, max_steps=args.max_steps)
    records = record_videos(cfg)
    returns = [r["return"] for r in records]
    print(f"{len(records)} clips in {args.out}: return {sum(returns) / len(returns):.1f} mean, "
          f"min {min(returns):.1f}, max {max(returns):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
