"""Between rung 1 and rung 2: is the loss in reading the agent's states, or in learning?

    OMP_NUM_THREADS=1 python -m experiments.transplant_policy \
        --runs runs/bench_pong_v3_state_150k_s0 runs/bench_pong_v3_estimator_150k_s0 \
        --estimator default-pong --episodes 5 --json results/transplant_pong_150k_s0.json

A ladder diagnostic (PRIVILEGED: it reads the emulator's state beside the frames). Every
run's learner acts on a state vector in :mod:`lfo.envs.privileged` units, whether that
vector was read from RAM (rung 1, ``state-<game>``) or estimated from frames (rung 2, the
state estimator), so each learner can be played on either input. For each run and each
input ("state": the true RAM state; "estimate": the estimator on the stacked frames) the
agent plays ``--episodes`` greedy games on evaluation seeds 0.., in the run's own world
(sticky actions as in its training). On every visited step the script also asks the same
learner what it would do on the *other* input, and records the estimator's error on the
state actually visited. The table it prints:

- return on true state vs on estimate, per run: a rung-1 learner that keeps its return on
  the estimate says the estimator reads the agent's own states well enough, so a rung-2
  deficit comes from *training* on estimated features; a rung-2 learner that plays better
  on the true state says its training did learn, and reading is what fails;
- action agreement (true vs estimate) on the visited states, overall and where either
  input makes the learner press;
- the estimator's R^2 and RMSE per state variable on the states the agent visits.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import encoders
from encoders.clip_features import encoder_view
from encoders.state_estimator import r2_per_variable, rmse_per_variable
from lfo.envs.games import make_raw_env, wrap_preprocess
from lfo.envs.privileged import state_variables
from lfo.loop.policy import RunPolicy, load_run

INPUTS = ("state", "estimate")
"""The two readings of every visited state; an input spec mixes them (see :func:`make_input`)."""


def effect_classes(game: str, n_actions: int) -> np.ndarray:
    """Action -> what it does to our paddle. Pong: FIRE moves nothing, so FIRE = NOOP,
    RIGHTFIRE = RIGHT (up), LEFTFIRE = LEFT (down); other games keep every action."""
    if game == "pong" and n_actions == 6:
        return np.array([0, 0, 1, 2, 1, 2])
    return np.arange(n_actions)


def make_input(spec: str, names: tuple[str, ...], rmse: np.ndarray | None,
               rng: np.random.Generator):
    """The learner's input from the two readings, per ``spec``:

    ``state`` / ``estimate``; ``state+est:a,b`` (the true state with variables a, b read by
    the estimator); ``estimate+true:a,b`` (the reverse); ``state+noise:F`` (the true state
    plus Gaussian noise of F times the estimator's RMSE on the run's visited states, per
    variable: how precise must a reader be?).
    """
    base, _, arg = spec.partition("+")
    if base not in INPUTS:
        raise ValueError(f"unknown input {spec!r}")
    if not arg:
        return lambda r: r[base]
    kind, _, what = arg.partition(":")
    if kind in ("est", "true"):
        cols = [names.index(n) for n in what.split(",")]
        other = "estimate" if kind == "est" else "state"

        def mixed(r):
            x = r[base].copy()
            x[cols] = r[other][cols]
            return x
        return mixed
    if kind == "noise" and rmse is not None:
        scale = float(what) * rmse
        return lambda r: (r[base] + rng.normal(size=len(scale)) * scale).astype(np.float32)
    raise ValueError(f"unknown input {spec!r} (noise needs the estimate pass first)")


def play(run: RunPolicy, estimator, source: str, seed: int, max_steps: int | None,
         names: tuple[str, ...] = (), rmse: np.ndarray | None = None) -> dict:
    """One greedy game of ``run``'s learner acting on ``source`` (an input spec); the
    learner's actions on the state and on the estimate are recorded at every step."""
    choose = make_input(source, names, rmse, np.random.default_rng(seed))
    options = run.train_config.agent_env_options()
    env = wrap_preprocess(make_raw_env(run.game, privileged_state=True, **options),
                          encoder_view(estimator, run.game))
    learner = run.load_learner()
    obs, info = env.reset(seed=seed)
    total, steps, done = 0.0, 0, False
    truth, valid, est, acts = [], [], [], {k: [] for k in INPUTS}
    while not done:
        inputs = {"state": np.asarray(info["state"], np.float32),
                  "estimate": estimator.encode(obs[None])[0].astype(np.float32)}
        for k in INPUTS:
            acts[k].append(int(learner.act(run.normalizer(inputs[k]), greedy=True)))
        played = (acts[source][-1] if source in INPUTS else
                  int(learner.act(run.normalizer(choose(inputs)), greedy=True)))
        truth.append(inputs["state"])
        valid.append(np.asarray(info["state_valid"], bool))
        est.append(inputs["estimate"])
        obs, reward, terminated, truncated, info = env.step(played)
        total += float(reward)
        steps += 1
        done = terminated or truncated or (max_steps is not None and steps >= max_steps)
    env.close()
    return {"seed": seed, "return": total, "steps": steps,
            "truth": np.stack(truth), "valid": np.stack(valid), "estimate": np.stack(est),
            "actions": {k: np.asarray(v) for k, v in acts.items()}}


def summarise(games: list[dict], names: tuple[str, ...], effect: np.ndarray) -> dict:
    """Returns, action agreement (by effect) and estimator error over a set of games."""
    truth = np.concatenate([g["truth"] for g in games])
    valid = np.concatenate([g["valid"] for g in games])
    est = np.concatenate([g["estimate"] for g in games])
    a_state = effect[np.concatenate([g["actions"]["state"] for g in games])]
    a_est = effect[np.concatenate([g["actions"]["estimate"] for g in games])]
    press = (a_state != 0) | (a_est != 0)
    returns = [g["return"] for g in games]
    return {
        "returns": returns, "mean": float(np.mean(returns)), "std": float(np.std(returns)),
        "steps": int(len(truth)),
        "agreement": float((a_state == a_est).mean()),
        "agreement_where_either_presses": float((a_state == a_est)[press].mean()) if press.any()
        else None,
        "press_rate": {"state": float((a_state != 0).mean()),
                       "estimate": float((a_est != 0).mean())},
        "estimator_r2": dict(zip(names, map(float, r2_per_variable(est, truth, valid)),
                                 strict=True)),
        "estimator_rmse": dict(zip(names, map(float, rmse_per_variable(est, truth, valid)),
                                   strict=True)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", required=True, help="run folders (any rung)")
    ap.add_argument("--estimator", default=None,
                    help="state estimator (default: the game's default encoder)")
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--inputs", nargs="+", default=list(INPUTS),
                    help="what the learner acts on: state, estimate, state+est:VARS, "
                         "estimate+true:VARS, state+noise:F (after estimate)")
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    runs = [load_run(r) for r in args.runs]
    game = runs[0].game
    if any(r.game != game for r in runs):
        raise SystemExit("every run must play the same game")
    estimator = encoders.load(args.estimator or f"default-{game}")
    names = tuple(v.name for v in state_variables(game))
    if tuple(getattr(estimator.spec, "outputs", ()) or ()) != names:
        raise SystemExit(f"{args.estimator} does not estimate {game}'s state {names}")
    n_actions = int(make_raw_env(game).action_space.n)
    effect = effect_classes(game, n_actions)
    result = {"game": game, "action_effect_classes": effect.tolist(),
              "estimator": estimator.spec.name, "episodes": args.episodes,
              "mode": "greedy", "runs": {}}
    for spec in args.inputs:
        make_input(spec, names, np.zeros(len(names)), np.random.default_rng(0))  # fail early
    for run in runs:
        row = {"encoder": run.config.get("encoder") or f"default-{game}",
               "steps_trained": run.config.get("steps"), "inputs": {}}
        rmse = None
        for source in args.inputs:
            t0 = time.time()
            games = [play(run, estimator, source, s, args.max_steps or
                          run.config.get("max_episode_steps"), names, rmse)
                     for s in range(args.episodes)]
            row["inputs"][source] = summarise(games, names, effect)
            row["inputs"][source]["wall_s"] = round(time.time() - t0, 1)
            s = row["inputs"][source]
            if source == "estimate":
                rmse = np.array([s["estimator_rmse"][n] for n in names])
            print(f"{run.folder} on {source:8s}: return {s['mean']:6.1f} +- {s['std']:4.1f} "
                  f"({s['returns']}), agreement {s['agreement']:.3f}, where pressing "
                  f"{s['agreement_where_either_presses']:.3f}, press rate state/estimate "
                  f"{s['press_rate']['state']:.3f}/{s['press_rate']['estimate']:.3f}", flush=True)
            print("   estimator R2 on visited states: " + ", ".join(
                f"{k} {v:.3f}" for k, v in s["estimator_r2"].items()), flush=True)
        result["runs"][str(run.folder)] = row
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
