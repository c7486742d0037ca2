"""Collect finished run folders into one results file: curves, final scores, wall time.

    python -m experiments.collect_runs --runs runs/ratio/carracing-f2-s0 \\
        runs/ratio/carracing-f1-s0 \\
        --json results/loop_ratio_carracing.json

Per run: the loop settings that differ between runs (num_envs, train_frequency,
learner settings...), the evaluation curve (normalised score, greedy and sampled), the
final evaluation, the best evaluation (greedy and sampled: the stability target compares
the final with it), the training episodes' mean score over the last fifth of the run,
the reward-free checkpoint choice and its rank correlation, the weight-averaged
policy's evaluations where the run kept one, and the wall time from the run folder's
first file to final.json. Writes X.json and X.md.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import tyro

from lfo.envs.games import get_game
from lfo.loop.selection import spearman


@dataclass
class Args:
    runs: tuple[str, ...]
    """Run folders (each with config.json, eval.csv, final.json)."""
    json: str
    """Output path (a .md is written beside it)."""


def _eval_rows(run: Path) -> list[dict]:
    with open(run / "eval.csv", newline="") as f:
        return list(csv.DictReader(f))


def training_returns(run: Path) -> list[tuple[int, float]]:
    """(step, return) of every finished training episode, from the run's TensorBoard log."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0})
    events.Reload()
    if "train/episode_return" not in events.Tags().get("scalars", []):
        return []
    return [(e.step, e.value) for e in events.Scalars("train/episode_return")]


def late_training_score(run: Path, final: dict, fraction: float = 0.2) -> float | None:
    """Mean normalised return of the training episodes that ended in the run's last
    ``fraction`` of agent steps: the agent's own (sampled, exploring) play, averaged over
    many more episodes than an evaluation holds."""
    episodes = training_returns(run)
    start = final["steps"] * (1 - fraction)
    late = [r for step, r in episodes if step >= start]
    if not late:
        return None
    span = final["expert_return"] - final["random_return"]
    return (sum(late) / len(late) - final["random_return"]) / span


def collect(run: Path) -> dict:
    config = json.loads((run / "config.json").read_text())
    final = json.loads((run / "final.json").read_text())
    rows = _eval_rows(run)
    spec = get_game(final["game"])
    curve = [{"step": int(r["step"]), "greedy": float(r["greedy_score"]),
              "sampled": float(r["sampled_score"]),
              "state_match": float(r["state_match"]) if r.get("state_match") else None,
              **({"averaged_greedy": float(r["averaged_greedy_score"]),
                  "averaged_sampled": float(r["averaged_sampled_score"])}
                 if r.get("averaged_greedy_score") else {})}
             for r in rows]
    wall = (run / "final.json").stat().st_mtime - (run / "config.json").stat().st_mtime
    best = max(curve, key=lambda c: c["sampled"])
    best_greedy = max(curve, key=lambda c: c["greedy"])
    selection = final.get("selection") or {}
    return {
        "run": str(run), "game": final["game"], "method": final["method"],
        "encoder": final["encoder"], "seed": config["seed"], "steps": final["steps"],
        # a setting left to the game's default is None in config.json: show the default
        "num_envs": config.get("num_envs") or spec.num_envs,
        "train_frequency": config.get("train_frequency") or spec.train_frequency,
        "gradient_steps": config.get("gradient_steps"), "learner": config.get("learner"),
        "batch_size": config.get("batch_size"), "explore_epsilon": config.get("explore_epsilon"),
        "explore_epsilon_final": config.get("explore_epsilon_final"),
        "final_greedy": final["greedy_score"], "final_sampled": final["sampled_score"],
        "best_eval_sampled": best["sampled"], "best_eval_step": best["step"],
        "best_eval_greedy": best_greedy["greedy"], "best_eval_greedy_step": best_greedy["step"],
        "max_clips": config.get("max_clips"),
        "curve": curve, "wall_minutes": wall / 60,
        "late_training_score": late_training_score(run, final),
        "selection": selection,
        "averaged": final.get("averaged"),
        "selection_spearman_recomputed": spearman(
            [-c["state_match"] for c in curve if c["state_match"] is not None],
            [c["sampled"] for c in curve if c["state_match"] is not None]),
    }


def markdown(rows: list[dict]) -> str:
    lines = ["| run | seed | envs | train freq | final greedy / sampled | best eval (step) "
             "| best greedy (step) | reward-free choice: step, greedy / sampled "
             "| training play, last 20% | wall (min) | curve (sampled) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["selection"]
        choice = (f"{s['step']}: {s['greedy_score']:.2f} / {s['sampled_score']:.2f}"
                  if s else "-")
        curve = " ".join(f"{c['sampled']:.2f}" for c in r["curve"])
        late = r.get("late_training_score")
        late = "-" if late is None else f"{late:.2f}"
        lines.append(f"| {Path(r['run']).name} | {r['seed']} | {r['num_envs']} | "
                     f"{r['train_frequency']} | {r['final_greedy']:.2f} / "
                     f"{r['final_sampled']:.2f} | {r['best_eval_sampled']:.2f} "
                     f"({r['best_eval_step']}) | {r['best_eval_greedy']:.2f} "
                     f"({r['best_eval_greedy_step']}) | {choice} | {late} "
                     f"| {r['wall_minutes']:.1f} "
                     f"| {curve} |")
    averaged = [r for r in rows if r.get("averaged")]
    if averaged:  # runs with --learner.average-decay: the weight average's policy beside
        lines += ["", "| run | final greedy / sampled | weight-averaged final greedy / sampled "
                  "| curve greedy / sampled, learner's | the same, averaged |",
                  "|---|---|---|---|---|"]
        for r in averaged:
            a = r["averaged"]
            own = " ".join(f"{c['greedy']:.2f}/{c['sampled']:.2f}" for c in r["curve"])
            avg = " ".join(f"{c['averaged_greedy']:.2f}/{c['averaged_sampled']:.2f}"
                           for c in r["curve"] if "averaged_greedy" in c)
            lines.append(f"| {Path(r['run']).name} | {r['final_greedy']:.2f} / "
                         f"{r['final_sampled']:.2f} | {a['greedy_score']:.2f} / "
                         f"{a['sampled_score']:.2f} | {own} | {avg} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    args = tyro.cli(Args)
    rows = [collect(Path(r)) for r in args.runs if (Path(r) / "final.json").is_file()]
    out = Path(args.json)
    out.write_text(json.dumps(rows, indent=1))
    out.with_suffix(".md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
