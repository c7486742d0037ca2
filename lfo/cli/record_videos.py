"""Record demonstration videos with a scripted privileged expert.

    lfo-record-videos --env carracing --episodes 20 --out videos/carracing

Writes clip_000.mp4 (RGB observations at the env's control rate, no action channel) and
clip_000.json (env, seed, skill, return, length, fps, and the expert's actions, which
exist for evaluation and oracle baselines only) per episode, plus recording.json.

`python scripts/record_videos.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import sys

import tyro

from lfo.demonstrations.recorder import RecordConfig, record_videos


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(RecordConfig, args=argv, description=__doc__)
    try:
        records = record_videos(cfg)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    returns = [r["return"] for r in records]
    print(f"{len(records)} clips in {cfg.out}: return {sum(returns) / len(returns):.1f} mean, "
          f"min {min(returns):.1f}, max {max(returns):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
