"""Time the training loop: agent steps/s of loop settings against the raw env, in one run.

    lfo-bench-loop --env pong
    lfo-bench-loop --env carracing --variants single default 2:async:2
    lfo-bench-loop --env pong --json results/bench_loop_pong.json

Per game and rung (1: the privileged state-<game> encoder, 2: the game's default
estimator): the loop as it ran before vector envs (1 env, 1 update per agent step), the
game's defaults (lfo.envs.games), any NUM_ENVS:sync|async:TRAIN_FREQUENCY variant, and
the raw env stepped with random actions in this process; then one evaluation (greedy +
sampled episodes of an untrained agent) one episode at a time and all at once. Rates are
measured after the warm-up (learning_starts random steps), without evaluations or
checkpoints; the clips' features are cached before timing starts.

`python scripts/bench_loop.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import tyro

from lfo.analysis.loop_bench import (
    GAME_DEFAULT,
    SINGLE_ENV_EVERY_STEP,
    LoopVariant,
    raw_env_rate,
    time_evaluation,
    time_loop,
)
from lfo.envs.games import get_game
from lfo.loop.config import TrainConfig


@dataclass
class BenchLoopConfig:
    """What to time."""

    env: str = "pong"
    """Game (carracing, pong, breakout)."""
    videos: str | None = None
    """Clip folder; default videos/<game>."""
    encoders: tuple[str, ...] = ()
    """Encoders to time (default: state-<game> for rung 1 and the game's default for rung 2)."""
    variants: tuple[str, ...] = ("single", "default")
    """Loop settings: single (1 env, 1 update per step), default (the game's), or
    NUM_ENVS:sync|async:TRAIN_FREQUENCY."""
    measure_steps: int = 4_000
    """Agent steps timed per variant, after the warm-up."""
    learning_starts: int = 1_000
    """Random warm-up steps before the timed part."""
    raw_steps: int = 5_000
    """Steps of the raw env timed with random actions."""
    eval_episodes: int = 5
    """Episodes per mode of the timed evaluation (0: skip it)."""
    max_episode_steps: int | None = 1_000
    """Cap on the timed evaluation's episodes (keeps Atari evaluations short)."""
    device: str = "auto"
    """Where the learner and encoder run."""
    seed: int = 0
    """Seed of every run."""
    json: str | None = None
    """Also write the figures here (and a .md beside it)."""


def parse_variant(text: str) -> LoopVariant:
    """``single``, ``default`` or ``NUM_ENVS:sync|async:TRAIN_FREQUENCY``."""
    if text == "single":
        return SINGLE_ENV_EVERY_STEP
    if text == "default":
        return GAME_DEFAULT
    try:
        n, mode, freq = text.split(":")
        return LoopVariant(f"{n} {mode} envs, 1 update/{freq} steps", int(n), mode, int(freq))
    except ValueError:
        raise ValueError(f"variant {text!r}: use single, default or "
                         "NUM_ENVS:sync|async:TRAIN_FREQUENCY (e.g. 4:sync:4)") from None


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(BenchLoopConfig, args=argv, description=__doc__)
    try:
        game = get_game(cfg.env).name
        variants = [parse_variant(v) for v in cfg.variants]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    encoders = cfg.encoders or (f"state-{game}", f"default-{game}")
    raw = raw_env_rate(game, cfg.raw_steps, cfg.seed)
    print(f"{game}: raw env {raw:.0f} steps/s (random actions, one process)")
    rows = []
    for encoder in encoders:
        rung = 1 if encoder.startswith("state-") else 2
        train_cfg = TrainConfig(videos=cfg.videos or f"videos/{game}", env=game,
                                encoder=encoder, seed=cfg.seed, progress=False,
                                learning_starts=cfg.learning_starts, device=cfg.device)
        base = None
        for variant in variants:
            timing = time_loop(train_cfg, variant, cfg.measure_steps)
            base = base or timing.steps_per_s
            row = {"game": game, "rung": rung, "encoder": encoder,
                   **dataclasses.asdict(timing), "steps_per_s": timing.steps_per_s,
                   "ratio_to_raw_env": timing.steps_per_s / raw,
                   "ratio_to_first_variant": timing.steps_per_s / base, "raw_env_steps_per_s": raw}
            rows.append(row)
            print(f"  rung {rung} {encoder}: {variant.name} ({timing.num_envs} "
                  f"{timing.vectorization}, 1 update/{timing.train_frequency}): "
                  f"{timing.steps_per_s:.0f} agent steps/s = {row['ratio_to_raw_env']:.2f} of "
                  f"the raw env, {row['ratio_to_first_variant']:.2f}x the first variant")
    evaluation = {}
    if cfg.eval_episodes:
        eval_cfg = TrainConfig(videos=cfg.videos or f"videos/{game}", env=game,
                               encoder=encoders[-1], seed=cfg.seed, progress=False,
                               max_episode_steps=cfg.max_episode_steps, device=cfg.device)
        one = time_evaluation(eval_cfg, cfg.eval_episodes, num_envs=1)
        together = time_evaluation(eval_cfg, cfg.eval_episodes, num_envs=None)
        evaluation = {"episodes_per_mode": cfg.eval_episodes, "one_at_a_time_s": one,
                      "all_at_once_s": together, "max_episode_steps": cfg.max_episode_steps}
        print(f"  evaluation ({cfg.eval_episodes} greedy + {cfg.eval_episodes} sampled, "
              f"{encoders[-1]}): {one:.1f} s one at a time, {together:.1f} s all at once")
    if cfg.json:
        out = Path(cfg.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"config": dataclasses.asdict(cfg), "rows": rows,
                                   "evaluation": evaluation}, indent=1))
        out.with_suffix(".md").write_text(markdown(rows, evaluation))
        print(f"written: {out} and {out.with_suffix('.md')}")
    return 0


def markdown(rows: list[dict], evaluation: dict) -> str:
    """The figures as a table."""
    lines = ["| game | rung | encoder | loop | envs | train freq | agent steps/s | of raw env "
             "| vs first |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['game']} | {r['rung']} | {r['encoder']} | {r['variant']} | "
                     f"{r['num_envs']} {r['vectorization']} | {r['train_frequency']} | "
                     f"{r['steps_per_s']:.0f} | {r['ratio_to_raw_env']:.2f} | "
                     f"{r['ratio_to_first_variant']:.2f}x |")
    if rows:
        lines.append(f"\nraw env: {rows[0]['raw_env_steps_per_s']:.0f} steps/s")
    if evaluation:
        lines.append(f"\nevaluation ({evaluation['episodes_per_mode']} greedy + sampled "
                     f"episodes): {evaluation['one_at_a_time_s']:.1f} s one at a time, "
                     f"{evaluation['all_at_once_s']:.1f} s all at once")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
