"""How a trained agent holds up under distribution shift: returns, ratios, a table and a chart.

:func:`shift_eval` loads a run folder written by :class:`lfo.loop.trainer.Trainer` (its
``config.json`` and ``checkpoint/``), evaluates the agent in its own world
("in-distribution": the run's env options, evaluation seeds 0..N-1) and under each named
env shift of its game (:func:`lfo.shifts.registry.env_shifts`), greedy and sampled, and reports per
row the mean +- std return over the episode seeds and its ratio to the in-distribution
return. Runs trained from *shifted videos* (``train_lfo.py --video-shift fps25``) can be
added with ``video_runs``: each is evaluated in-distribution on the same seeds, and its
ratio is taken to the main run's in-distribution return, which measures video-domain
shifts end to end.

Outputs (``out``, default ``<run>/shift_eval/``): ``shift_eval.md`` (the table),
``shift_eval.png`` (a bar chart) and ``shift_eval.json`` (every episode's return).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from lfo.envs.evaluate import EvalResult, normalised_score
from lfo.loop.plots import _pyplot
from lfo.loop.policy import load_run
from lfo.shifts.registry import env_shifts, get_env_shift

MODES = ("greedy", "sampled")


@dataclass
class ShiftEvalConfig:
    """What to evaluate."""

    run: Path | None = None
    """Run folder (config.json + checkpoint/) of the agent trained on clean videos
    (required unless list_shifts)."""
    shifts: tuple[str, ...] | None = None
    """Env shift names (default: every shift of the run's game; see --list-shifts)."""
    eval_episodes: int = 10
    """Episodes (seeds) per row and evaluation mode."""
    modes: tuple[Literal["greedy", "sampled"], ...] = MODES
    """Evaluation modes: greedy and/or sampled."""
    max_episode_steps: int | None = None
    """Cap on episode length (default: the run's max_episode_steps)."""
    video_runs: tuple[Path, ...] = ()
    """Runs trained from shifted videos (train_lfo.py --video-shift NAME), compared
    in-distribution with run."""
    out: Path | None = None
    """Output folder (default <run>/shift_eval)."""
    json: Path | None = None
    """Also write the results JSON here."""
    list_shifts: bool = False
    """Print every named shift and exit."""
    progress: bool = True
    """Show a progress bar."""


def _row(name: str, kind: str, doc: str, options: dict, seeds: list[int],
         results: dict[str, EvalResult]) -> dict[str, Any]:
    row: dict[str, Any] = {"shift": name, "kind": kind, "doc": doc, "options": options,
                           "seeds": [seeds[0], seeds[-1]]}
    for mode, res in results.items():
        row[mode] = {"mean": res.mean, "std": res.std, "returns": res.returns.tolist()}
    return row


def shift_eval(cfg: ShiftEvalConfig) -> dict[str, Any]:
    """Evaluate in-distribution and under each shift; write table, chart and JSON."""
    if cfg.run is None:
        raise ValueError("no run folder given (--run DIR)")
    run = load_run(cfg.run)
    unknown = set(cfg.modes) - set(MODES)
    if unknown:
        raise ValueError(f"unknown mode(s) {sorted(unknown)}; use {' and/or '.join(MODES)}")
    names = list(cfg.shifts) if cfg.shifts is not None else list(env_shifts(run.game))
    shifts = [get_env_shift(run.game, n) for n in names]  # unknown names fail before any work
    max_steps = (cfg.max_episode_steps if cfg.max_episode_steps is not None else
                 run.config.get("max_episode_steps"))
    base_options = run.train_config.agent_env_options()
    base_seeds = list(range(cfg.eval_episodes))

    def play(policy, options, seeds):
        return policy.evaluate(seeds, cfg.modes, env_options=options, max_steps=max_steps)
    video = [load_run(v) for v in cfg.video_runs]
    for other in video:
        if other.game != run.game:
            raise ValueError(f"{other.folder} plays {other.game}, {cfg.run} plays {run.game}")

    total = 1 + len(shifts) + len(video)
    bar = tqdm(total=total, desc=f"shift eval {run.game}", disable=not cfg.progress)
    rows = [_row("in-distribution", "reference", "the run's own world, evaluation seeds 0..",
                 base_options, base_seeds,
                 play(run, base_options, base_seeds))]
    bar.update(1)
    skipped = []
    for shift in shifts:
        options, seeds = {**base_options, **shift.options}, shift.seeds(cfg.eval_episodes)
        if options == base_options and seeds == base_seeds:
            skipped.append(f"{shift.name} (identical to the run's own world)")
        else:
            rows.append(_row(shift.name, "env", shift.doc, shift.options, seeds,
                             play(run, options, seeds)))
        bar.update(1)
    for other in video:
        shift = other.config.get("video_shift") or "none"
        rows.append(_row(f"trained from {shift}", "video",
                         f"{other.folder}: trained from the videos under '{shift}'",
                         base_options, base_seeds,
                         play(other, base_options, base_seeds)))
        bar.update(1)
    bar.close()

    random_return, expert = run.final.get("random_return"), run.final.get("expert_return")
    add_ratios(rows, cfg.modes, random_return, expert)

    out = Path(cfg.out) if cfg.out is not None else Path(cfg.run) / "shift_eval"
    out.mkdir(parents=True, exist_ok=True)
    result = {"run": str(cfg.run), "game": run.game, "episodes": cfg.eval_episodes,
              "modes": list(cfg.modes), "max_steps": max_steps, "expert_return": expert,
              "random_return": random_return, "skipped": skipped, "rows": rows}
    text = json.dumps(result, indent=1, default=float) + "\n"
    (out / "shift_eval.json").write_text(text)
    if cfg.json is not None:
        Path(cfg.json).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.json).write_text(text)
    (out / "shift_eval.md").write_text(markdown_table(result) + "\n")
    bar_chart(result, out / "shift_eval.png")
    result["out"] = str(out)
    return result


def add_ratios(rows: list[dict[str, Any]], modes, random_return: float | None,
               expert: float | None) -> None:
    """Per row and mode: ``ratio`` = mean return / in-distribution mean return (defined when
    the in-distribution return is positive), ``score`` = normalised score (0 random, 1 the
    expert) and ``score_ratio`` = score / in-distribution score (defined when that score is
    positive; the ratio that means something for games with negative returns, e.g. Pong)."""
    reference = rows[0]
    for row in rows:
        for mode in modes:
            stats = row[mode]
            ref = reference[mode]["mean"]
            stats["ratio"] = stats["mean"] / ref if ref > 0 else float("nan")
            known = random_return is not None and expert is not None
            stats["score"] = (normalised_score(stats["mean"], random_return, expert) if known
                              else float("nan"))
            ref_score = (normalised_score(ref, random_return, expert) if known
                         else float("nan"))
            stats["score_ratio"] = (stats["score"] / ref_score if ref_score > 0
                                    else float("nan"))


def markdown_table(result: dict[str, Any]) -> str:
    """One line per row: return mean +- std over the seeds and ratio to in-distribution."""
    modes = result["modes"]
    head = "| shift | kind | " + " | ".join(
        f"{m} return | {m} ratio | {m} score ratio" for m in modes) + " | what |"
    lines = [
        f"Shift evaluation of `{result['run']}` ({result['game']}): {result['episodes']} "
        "episodes per row and mode; ratio = mean return / in-distribution mean return; score "
        "ratio = normalised score (0 random, 1 expert) / in-distribution score.",
        "",
        head,
        "|" + "---|" * (3 + 3 * len(modes)),
    ]
    for row in result["rows"]:
        cells = []
        for m in modes:
            s = row[m]
            cells += [f"{s['mean']:.1f} +- {s['std']:.1f}", f"{s['ratio']:.2f}",
                      f"{s.get('score_ratio', float('nan')):.2f}"]
        lines.append(f"| {row['shift']} | {row['kind']} | " + " | ".join(cells)
                     + f" | {row['doc']} |")
    if result.get("expert_return") is not None:
        lines.append(f"\nexpert (videos) {result['expert_return']:.1f}, random "
                     f"{result['random_return']:.1f} (from the run's final.json)")
    if result["skipped"]:
        lines.append("\nskipped: " + "; ".join(result["skipped"]))
    return "\n".join(lines)


def bar_chart(result: dict[str, Any], path: Path) -> Path:
    """Grouped bars (one group per row, one bar per mode), std error bars, in-dist. lines."""
    plt = _pyplot()
    rows, modes = result["rows"], result["modes"]
    x = np.arange(len(rows))
    width = 0.8 / len(modes)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(rows) + 2), 4))
    for i, (mode, colour) in enumerate(zip(modes, ("tab:blue", "tab:orange"), strict=False)):
        means = [r[mode]["mean"] for r in rows]
        stds = [r[mode]["std"] for r in rows]
        ax.bar(x + (i - (len(modes) - 1) / 2) * width, means, width, yerr=stds, capsize=3,
               color=colour, label=mode)
        ax.axhline(rows[0][mode]["mean"], color=colour, ls="--", lw=0.8)
    ax.set_xticks(x, [r["shift"] for r in rows], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(f"episode return ({result['episodes']} seeds)")
    ax.set_title(f"{result['game']}: return under distribution shift")
    ax.axhline(0, color="grey", lw=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
