"""Learn to play from a folder of gameplay videos without action labels (state-only IQ-Learn).

    lfo-train --videos videos/carracing
    lfo-train --videos videos/pong --variant state-only --steps 20000
    lfo-train --videos videos/carracing --method gaifo   # a baseline
    lfo-train --out runs/x --resume   # continue a run (--steps N extends it)

Every option is a field of lfo.loop.config.TrainConfig (see --help).

`python scripts/train_lfo.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings

import tyro

from lfo.data.video import NoUsableClipError
from lfo.loop.config import TrainConfig, load_run_config
from lfo.loop.trainer import TrainingDiverged, TrainingInterrupted, train


def one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings for users: one line, no source echo."""
    return f"warning: {message}\n"


#: what a resumed run may change: a longer budget and how it reports progress
RESUME_OVERRIDES = {"steps", "progress", "resume", "out", "force"}


def _flag_value(argv: list[str], flag: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def parse_config(argv: list[str]) -> TrainConfig:
    """The run's settings from the command line. With ``--resume``, the run folder's saved
    config supplies every default (so ``--out RUN --resume`` is enough) and only the budget
    (``--steps``, to extend it) and ``--progress`` may be given anew."""
    if "--resume" not in argv:
        return tyro.cli(TrainConfig, args=argv, description=__doc__)
    out = _flag_value(argv, "--out")
    if out is None:
        raise ValueError("--resume needs --out RUN_DIR (the folder of the run to continue)")
    saved = load_run_config(out)
    cfg = tyro.cli(TrainConfig, args=argv, default=saved, description=__doc__)
    changed = sorted(f.name for f in dataclasses.fields(TrainConfig)
                     if f.name not in RESUME_OVERRIDES
                     and getattr(cfg, f.name) != getattr(saved, f.name))
    if changed:
        raise ValueError(f"a resumed run keeps its settings; these differ from {out}/config.json: "
                         f"{', '.join(changed)} (start a new run with another --out instead)")
    return dataclasses.replace(cfg, out=str(out), resume=True)


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = one_line_warning
    argv = sys.argv[1:] if argv is None else argv
    try:
        cfg = parse_config(argv)
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
    chosen = summary.get("selection")
    if chosen:
        print(f"reward-free choice (closest play to the clips): the checkpoint of step "
              f"{chosen['step']}, greedy {chosen['greedy_mean']:.1f}, sampled "
              f"{chosen['sampled_mean']:.1f} (score {chosen['sampled_score']:.2f}); "
              f"{chosen['checkpoint']}")
    averaged = summary.get("averaged")
    if averaged:
        print(f"weight-averaged policy (decay {averaged['average_decay']}): greedy "
              f"{averaged['greedy_mean']:.1f}, sampled {averaged['sampled_mean']:.1f} "
              f"(score {averaged['sampled_score']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
