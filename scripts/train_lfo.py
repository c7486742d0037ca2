#!/usr/bin/env python
"""Learn to play from a folder of gameplay videos without action labels (state-only IQ-Learn).

    python scripts/train_lfo.py --videos videos/carracing
    python scripts/train_lfo.py --videos videos/pong --variant state-only --steps 20000
    python scripts/train_lfo.py --videos videos/carracing --method gaifo   # a baseline
    python scripts/train_lfo.py --videos videos/carracing --out runs/x --resume

Every option is a field of lfo.loop.config.TrainConfig (see --help).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import tyro  # noqa: E402

from lfo.data.video import NoUsableClipError  # noqa: E402
from lfo.loop.config import TrainConfig, load_run_config  # noqa: E402
from lfo.loop.trainer import TrainingDiverged, TrainingInterrupted, train  # noqa: E402


def one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings for users: one line, no source echo."""
    return f"warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = one_line_warning
    argv = sys.argv[1:] if argv is None else argv
    cfg = tyro.cli(TrainConfig, args=argv, description=__doc__)
    try:
        if cfg.resume:
            if cfg.out is None:
                print("error: --resume needs --out RUN_DIR", file=sys.stderr)
                return 2
            # the run's own budget unless --steps is given again (to extend it)
            steps_given = any(a == "--steps" or a.startswith("--steps=") for a in argv)
            overrides = {"steps": cfg.steps} if steps_given else {}
            cfg = load_run_config(cfg.out, progress=cfg.progress, **overrides)
        summary = train(cfg)
    except TrainingInterrupted as exc:
        print(exc, file=sys.stderr)
        return 130
    except (NoUsableClipError, FileNotFoundError, ValueError, RuntimeError) as exc:
        kind = "training diverged" if isinstance(exc, TrainingDiverged) else "error"
        print(f"{kind}: {exc}", file=sys.stderr)
        return 1
    budget = (f"{summary['steps']} agent steps ({summary['env_steps']} env steps)"
              if summary["env_steps"] else f"{summary['steps']} updates (offline)")
    print(
        f"done: {summary['game']} {summary['method_label']} after {budget}; "
        f"greedy {summary['greedy_mean']:.1f} +- {summary['greedy_std']:.1f}, "
        f"sampled {summary['sampled_mean']:.1f} +- {summary['sampled_std']:.1f} "
        f"(normalised score {summary['sampled_score']:.2f}; expert {summary['expert_return']:.1f}, "
        f"random {summary['random_return']:.1f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
