"""Measure the scripted Atari experts (and a uniform random policy) per seed.

Usage (from the repository root):
    OMP_NUM_THREADS=1 .venv/bin/python -m experiments.measure_atari_experts --game pong \
        --seeds 10000-10009 --skill 1.0 [--out results.jsonl]
    ... --policy random   # uniform random actions, seeded by the episode seed
    ... --policy expert-tracking   # the original controllers that track the hidden rest
                                   # point over time (<Game>Config(memoryless=False))
    ... --policy expert-memoryless # the controllers that read the rest point off the
                                   # paddle's last step (<Game>Config(memoryless=True))
Each episode runs to the game's end or the env's own cap (108,000 frames = 27,000 steps).
"""

from __future__ import annotations

import argparse
import json
import time

import ale_py
import gymnasium as gym
import numpy as np

from lfo.demonstrations.experts.atari import (
    BreakoutConfig,
    BreakoutExpert,
    PongConfig,
    PongExpert,
)

gym.register_envs(ale_py)
ENVS = {"pong": ("ALE/Pong-v5", PongExpert), "breakout": ("ALE/Breakout-v5", BreakoutExpert)}


def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0..4]; '1,5,9' -> [1, 5, 9]."""
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def run_episode(game: str, seed: int, policy: str, skill: float, max_steps: int | None) -> dict:
    """One full episode; the expert (or random policy) is seeded with the env seed."""
    env_id, cls = ENVS[game]
    env = gym.make(env_id, max_episode_steps=max_steps)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    if policy in ("expert-tracking", "expert-memoryless"):
        config_cls = PongConfig if cls is PongExpert else BreakoutConfig
        config = config_cls(memoryless=policy == "expert-memoryless")
        expert = cls(skill=skill, seed=seed, config=config)
    else:
        expert = cls(skill=skill, seed=seed)
    expert.reset(env)
    ret, steps, done = 0.0, 0, False
    won = lost = last_reward_step = 0
    truncated = False
    info: dict = {}
    t0 = time.time()
    while not done:
        if policy == "random":
            a = int(rng.integers(env.action_space.n))
        else:
            a = expert.act(env, obs)
        obs, r, term, trunc, info = env.step(a)
        ret += r
        won += r > 0
        lost += r < 0
        steps += 1
        if r != 0:
            last_reward_step = steps
        done = term or trunc
        truncated = trunc
    env.close()
    return {
        "seed": seed,
        "return": ret,
        "steps": steps,
        "won": int(won),
        "lost": int(lost),
        "last_reward_step": last_reward_step,
        "lives_left": int(info.get("lives", -1)),
        "truncated": bool(truncated),
        "seconds": round(time.time() - t0, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--game", choices=sorted(ENVS), required=True)
    p.add_argument("--seeds", default="10000-10009")
    p.add_argument("--policy", default="expert",
                   choices=["expert", "expert-tracking", "expert-memoryless", "random"])
    p.add_argument("--skill", type=float, default=1.0)
    p.add_argument("--out", default=None, help="append one JSON line per episode here")
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="cap on agent steps (default: the env's own 108k-frame cap)",
    )
    args = p.parse_args()
    rows = []
    t0 = time.time()
    for seed in parse_seeds(args.seeds):
        row = run_episode(args.game, seed, args.policy, args.skill, args.max_steps)
        rows.append(row)
        print(row, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(
                    json.dumps(
                        {"game": args.game, "policy": args.policy, "skill": args.skill, **row}
                    )
                    + "\n"
                )
    rets = np.array([r["return"] for r in rows])
    lens = np.array([r["steps"] for r in rows])
    print(
        f"{args.game} {args.policy} skill={args.skill} seeds={args.seeds}: "
        f"return mean {rets.mean():.2f} std {rets.std():.2f} min {rets.min():.0f} "
        f"max {rets.max():.0f}; length mean {lens.mean():.0f}; {time.time() - t0:.0f}s"
    )


if __name__ == "__main__":
    main()
