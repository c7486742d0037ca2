"""Evaluate every kept checkpoint of a run again, on more episodes than the run used.

    OMP_NUM_THREADS=1 python -m experiments.evaluate_checkpoints \\
        --runs runs/keep/carracing-s0 --episodes 10 --json results/x.json

A run trained with ``--keep-eval-checkpoints`` keeps its learner at each evaluation
(``checkpoints/step_N``). Its own evaluations are short (3 greedy + 3 sampled episodes,
evaluation seeds 0-2), so a swing between two of them may be evaluation noise. Here each
kept learner, and the last one, plays ``--episodes`` greedy and as many sampled episodes
on evaluation seeds 0.. (the same tracks for all), and the table puts the run's own
evaluation beside it. The "final within 0.05 of the best" stability target is read again
on these figures: ``best_minus_last``. With ``--json F`` a per-track table goes beside it
(``F`` with ``.md``). ``--checkpoints checkpoint checkpoint_best`` plays named learners of
any run instead (its last one and its reward-free choice).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from lfo.envs.evaluate import normalised_score
from lfo.loop.checkpoint import EVAL_CHECKPOINTS, read_state
from lfo.loop.policy import load_run

MODES = ("greedy", "sampled")


def kept_checkpoints(run: Path) -> list[Path]:
    """The run's kept learners in step order (``checkpoints/step_N``); an error if none."""
    found = sorted((run / EVAL_CHECKPOINTS).glob("step_*"))
    found = [p for p in found if (p / "state.pt").is_file()]
    if not found:
        raise FileNotFoundError(f"{run}: no {EVAL_CHECKPOINTS}/step_* (train it with "
                                "--keep-eval-checkpoints)")
    return found


def evaluate_run(run_dir: Path, episodes: int, checkpoints: list[str] | None = None) -> dict:
    """Every kept learner of one run (or the ``checkpoints`` named, folders of the run) on
    ``episodes`` seeds per mode, beside the run's own evaluation at that step."""
    own = {}
    eval_csv = run_dir / "eval.csv"
    if eval_csv.is_file():
        with eval_csv.open() as fh:
            own = {int(r["step"]): r for r in csv.DictReader(fh)}
    seeds = list(range(episodes))
    rows = []
    folders = ([run_dir / c for c in checkpoints] if checkpoints
               else kept_checkpoints(run_dir))
    for ckpt in folders:
        run = load_run(run_dir, learner_checkpoint=ckpt.relative_to(run_dir))
        cfg = run.train_config
        expert, random = run.final.get("expert_return"), run.final.get("random_return")
        step = int(read_state(ckpt)["step"])
        row: dict = {"checkpoint": str(ckpt.relative_to(run_dir)), "step": step}
        results = run.evaluate(seeds, MODES, max_steps=cfg.max_episode_steps)
        for mode, res in results.items():
            row[mode] = {"returns": res.returns.tolist(), "mean": res.mean, "std": res.std,
                         "score": normalised_score(res.mean, random, expert)
                         if expert is not None else None}
            if step in own:
                row[mode]["run_own_score"] = float(own[step][f"{mode}_score"])
        rows.append(row)
        print(f"{run_dir.name} {row['checkpoint']} @ {step}: " + "  ".join(
            f"{m} {row[m]['score']:.2f} (run's own {row[m].get('run_own_score', float('nan')):.2f})"
            for m in MODES), flush=True)
    return {"run": str(run_dir), "episodes": episodes, "seeds": [0, episodes - 1],
            "rows": rows, "summary": summarise(rows)}


def summarise(rows: list[dict]) -> dict:
    """Per mode: the best score, the last learner's (the highest step; the first of equal
    steps) and their difference, on the replayed tracks and on the run's own evaluations."""
    last = max(range(len(rows)), key=lambda i: (rows[i]["step"], -i))
    summary = {}
    for mode in MODES:
        scores = [r[mode]["score"] for r in rows]
        summary[mode] = {"best": max(scores), "last": scores[last],
                         "best_minus_last": max(scores) - scores[last]}
        own_scores = [r[mode].get("run_own_score") for r in rows]
        if all(s is not None for s in own_scores):
            summary[mode]["run_own_best_minus_last"] = max(own_scores) - own_scores[last]
            varies = np.std(scores) > 0 and np.std(own_scores) > 0
            summary[mode]["corr_with_run_own"] = (
                float(np.corrcoef(scores, own_scores)[0, 1]) if varies else None)
    return summary


def markdown_table(results: list[dict]) -> str:
    """One row per played learner: its step, the scores on the ``episodes`` tracks beside
    the run's own evaluation, and each track's greedy return."""
    episodes = results[0]["episodes"]
    lines = [f"| run | learner | step | greedy / sampled, {episodes} tracks | the run's own "
             f"evaluation | greedy return per track (0-{episodes - 1}) |",
             "|---|---|---|---|---|---|"]
    for res in results:
        for row in res["rows"]:
            own = [row[m].get("run_own_score") for m in MODES]
            own_cell = " / ".join(f"{v:.2f}" for v in own) if None not in own else "-"
            lines.append(
                f"| {Path(res['run']).name} | {row.get('checkpoint', '')} | {row['step']} | "
                f"{row['greedy']['score']:.2f} / {row['sampled']['score']:.2f} | {own_cell} | "
                + " ".join(f"{r:.0f}" for r in row["greedy"]["returns"]) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", type=Path, required=True)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--checkpoints", nargs="+", default=None,
                        help="learner folders of each run to play, in this order (default: "
                             "every checkpoints/step_N)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    results = [evaluate_run(run, args.episodes, args.checkpoints) for run in args.runs]
    for res in results:
        s = res["summary"]
        print(f"{Path(res['run']).name}: last {s['greedy']['last']:.2f} / "
              f"{s['sampled']['last']:.2f}; best - last, {args.episodes} episodes: greedy "
              f"{s['greedy']['best_minus_last']:.2f}, sampled "
              f"{s['sampled']['best_minus_last']:.2f}; with the run's own evaluations: "
              f"{s['greedy'].get('run_own_best_minus_last', float('nan')):.2f}, "
              f"{s['sampled'].get('run_own_best_minus_last', float('nan')):.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))
        args.json.with_suffix(".md").write_text(markdown_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
