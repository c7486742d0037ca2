"""Side-by-side benchmark: several methods x seeds on the same videos, features and budget.

Every run is an ordinary :func:`lfo.loop.trainer.train` run (same clips, encoder, feature
normaliser, replay, evaluation seeds and env-step budget ``steps``); only
``TrainConfig.method`` differs. The offline oracle ``oracle-bc`` takes no env steps: its
``steps`` are gradient updates, reported as such.

Outputs in ``out``: one run folder per ``<method>-s<seed>`` (its own logs and plots),
``results.json`` (one row per run; with Ray, the node that ran it), ``results.md`` (the
table: normalised score and return mean +- std over seeds, greedy and sampled, env steps,
wall time, plus the random policy as floor and the expert's recorded return as ceiling)
and ``learning_curves.png`` (all methods, mean over seeds with a +- std band). A run whose
``final.json`` exists is not run again; one with a checkpoint but no ``final.json``
(killed) resumes from it. Runs go one after another in this process, or as Ray tasks
(``--executor ray``) side by side on this machine or a cluster; a run's numbers do not
depend on which.
"""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm import tqdm

from lfo.algorithms.methods import ORACLE_NOTE, get_method
from lfo.loop import plots
from lfo.loop.config import RunSettings, TrainConfig, load_run_config
from lfo.loop.logs import say
from lfo.loop.trainer import train
from lfo.scaling.ray_cluster import import_ray, ray_session, run_tasks

DEFAULT_METHODS = ("iq-idm", "iq-state-only", "bco", "gaifo", "oracle-bc", "oracle-iq")


@dataclass
class BenchmarkConfig:
    """What to run: every (method, seed) pair is one training run in out."""

    env: Literal["carracing", "pong", "breakout"]
    """The game."""
    methods: tuple[str, ...] = DEFAULT_METHODS
    """Learners (lfo.algorithms.methods): iq-idm, iq-state-only, bco, gaifo, and the oracles
    oracle-iq and oracle-bc, which use the recorded expert actions."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Seed values; each method runs once per seed."""
    steps: int | None = None
    """Agent-step budget of every run (gradient updates for the offline oracle-bc);
    default: the game's (lfo.envs.games)."""
    videos: str | None = None
    """Clip folder; default videos/<env>."""
    out: str | None = None
    """Output folder (one run folder per method and seed, with checkpoints); default
    runs/bench_<env>."""
    json: str | None = None
    """Also write the results JSON here, with the table (.md) and the plot (.png) beside it."""
    run: RunSettings = field(default_factory=RunSettings)
    """Every other training setting, the same for every run (see scripts/train_lfo.py
    --help): --run.learner.lr 1e-3, --run.learning-starts 500, --run.eval-every 5000 ..."""
    progress: bool = True
    """Progress bars of the runs (with --executor ray: one bar over the runs)."""
    executor: Literal["local", "ray"] = "local"
    """Where the runs go: one after another in this process (local), or each (method, seed)
    run a Ray task, side by side on this machine or a cluster (ray; needs
    pip install 'lfo[ray]')."""
    ray_address: str | None = None
    """With --executor ray: join the cluster at this address (host:port of a head started
    with `ray start --head`, or auto); without it a Ray instance is started on this
    machine and stopped at the end. Clips, run folders and the project must be on storage
    every node mounts at the same path."""
    cpus_per_run: int = 1
    """Cores per run: torch's thread count in every run under both executors (the same
    threads give the same numbers) and each Ray task's CPU request."""
    gpus_per_run: float | None = None
    """Each Ray task's GPU request; default 1 with --run.device cuda, else 0."""

    @property
    def out_dir(self) -> Path:
        return Path(self.out or f"runs/bench_{self.env}")

    @property
    def videos_dir(self) -> str:
        return self.videos or f"videos/{self.env}"


def run_benchmark(
    cfg: BenchmarkConfig, command: str = "", json_path: Path | None = None
) -> list[dict[str, Any]]:
    """Run (or reuse) every (method, seed) and write the table, the plot and the JSON
    (also to json_path, default cfg.json).

    With ``cfg.executor == "ray"`` the unfinished runs are Ray tasks side by side (on this
    machine, or the cluster at ``cfg.ray_address``); the outputs are written as each run
    ends, in the config's order. A run that fails does not stop the others: the error
    names every failed run once all have ended (their checkpoints stay, so the next call
    resumes them)."""
    if json_path is None and cfg.json is not None:
        json_path = Path(cfg.json)
    for name in cfg.methods:
        get_method(name)  # fail before any run on a typo
    if cfg.cpus_per_run < 1:
        raise ValueError(f"--cpus-per-run must be >= 1, got {cfg.cpus_per_run}")
    if cfg.executor == "ray":
        import_ray()  # before any run: one line if it is missing
    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    order = [(name, seed) for name in cfg.methods for seed in cfg.seeds]
    rows: dict[tuple[str, int], dict[str, Any]] = {}

    def record(key: tuple[str, int], row: dict[str, Any]) -> None:
        rows[key] = row
        done = [rows[k] for k in order if k in rows]
        write_outputs(done, out, command=command, cfg=cfg, json_path=json_path)

    jobs: list[RunJob] = []
    for name, seed in order:
        run_dir = out / f"{name}-s{seed}"
        if (run_dir / "final.json").is_file():
            record((name, seed), run_row(run_dir, name, seed))
        else:
            # under Ray the runs' own bars would interleave: one bar over the runs instead
            progress = cfg.progress and cfg.executor == "local"
            jobs.append(RunJob(name, seed, str(run_dir), cfg.steps,
                               _new_run_config(cfg, name, seed, run_dir, progress)))
    if cfg.executor == "local":
        for job in jobs:
            record((job.method, job.seed), execute_run(job, cfg.cpus_per_run))
    else:
        _run_on_ray(cfg, jobs, record)
    return [rows[k] for k in order]


def _new_run_config(cfg: BenchmarkConfig, name: str, seed: int, run_dir: Path,
                    progress: bool) -> TrainConfig:
    shared = {f.name: getattr(cfg.run, f.name) for f in fields(RunSettings)}
    return TrainConfig(**shared, videos=cfg.videos_dir, env=cfg.env, method=name, seed=seed,
                       steps=cfg.steps, out=str(run_dir), progress=progress)


def _run_on_ray(cfg: BenchmarkConfig, jobs: list[RunJob], record) -> None:
    """Each job a Ray task with its CPUs (and a GPU with --run.device cuda)."""
    if not jobs:
        return
    gpus = cfg.gpus_per_run if cfg.gpus_per_run is not None else (
        1.0 if cfg.run.device == "cuda" else 0.0)
    failed: list[str] = []
    with ray_session(cfg.ray_address) as ray:
        say(f"ray: {len(jobs)} run(s) as tasks of {cfg.cpus_per_run} CPU(s) each on "
            f"{ray.cluster_resources().get('CPU', 0):g} CPUs "
            f"({len(ray.nodes())} node(s))")
        bar = tqdm(total=len(jobs), desc="runs", unit="run", disable=not cfg.progress)
        work = [((job.method, job.seed), (job, cfg.cpus_per_run)) for job in jobs]
        for result in run_tasks(ray, execute_run, work, num_cpus=cfg.cpus_per_run,
                                num_gpus=gpus):
            bar.update()
            name, seed = result.key
            if result.error is not None:
                failed.append(f"{name}-s{seed}: {type(result.error).__name__}: {result.error}")
                continue
            record(result.key, {**result.value, "node": result.node})
        bar.close()
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(jobs)} run(s) failed ({'; '.join(failed)}); "
                           "the others are in the table; run the command again to resume them")


@dataclass
class RunJob:
    """One (method, seed) run to train, or to resume from its checkpoint."""

    method: str
    seed: int
    run_dir: str
    steps: int | None
    """The budget asked for (extends a resumed run); None: the game's."""
    config: TrainConfig
    """The config of a new run (a resumed one reads its own from the run folder, with
    this one's progress setting)."""


def execute_run(job: RunJob, threads: int) -> dict[str, Any]:
    """Train (or resume) one run with ``threads`` torch threads; return its row. The same
    function runs in this process (local) and in a Ray worker."""
    run_dir = Path(job.run_dir)
    wall = run_dir / "wall_time.json"
    start = time.time()
    with torch_threads(threads):
        if (run_dir / "checkpoint" / "state.pt").is_file():
            budget = {} if job.steps is None else {"steps": job.steps}
            train(load_run_config(run_dir, progress=job.config.progress, **budget))
        else:
            train(job.config)
    previous = json.loads(wall.read_text())["wall_s"] if wall.is_file() else 0.0
    wall.write_text(json.dumps({"wall_s": previous + time.time() - start}))
    return run_row(run_dir, job.method, job.seed)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``n`` for the duration (same threads, same
    numbers, whichever executor runs the run)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_row(run_dir: Path, method: str, seed: int) -> dict[str, Any]:
    """One run's final summary (no per-episode detail) plus its wall time and curve."""
    final = json.loads((run_dir / "final.json").read_text())
    wall = run_dir / "wall_time.json"
    return {
        # the run's own label: marks runs on the simulator's state (--encoder state-<game>)
        "method": method, "label": final.get("method_label", get_method(method).label),
        "seed": seed,
        "run": str(run_dir),
        "wall_s": json.loads(wall.read_text())["wall_s"] if wall.is_file() else float("nan"),
        **{k: v for k, v in final.items() if k != "episodes"},
        "curve": read_eval_csv(run_dir / "eval.csv"),
    }


def read_eval_csv(path: Path) -> list[dict[str, float]]:
    """The numeric columns of a run's ``eval.csv`` (empty if it has none yet)."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if k != "greedy_first_actions"}
                for row in csv.DictReader(f)]


def interquartile_mean(values: Sequence[float]) -> float:
    """Mean of the middle half of the values (25% trimmed from each end, as rliable's IQM:
    ``floor(0.25 n)`` values cut from each side, so 3 seeds give the plain mean)."""
    v = np.sort(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan")
    k = int(np.floor(0.25 * len(v)))
    return float(v[k:len(v) - k].mean())


def bootstrap_ci(values: Sequence[float], statistic=interquartile_mean, *, reps: int = 2000,
                 level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over runs (resampled with replacement).

    With few seeds the interval is wide and coarse; it is reported so that it is seen."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    stats = np.array([statistic(v[rng.integers(len(v), size=len(v))]) for _ in range(reps)])
    tail = (1.0 - level) / 2
    return float(np.quantile(stats, tail)), float(np.quantile(stats, 1 - tail))


def _iqm_ci(values: Sequence[float], digits: int = 2) -> str:
    v = np.asarray(values, dtype=float)
    if not np.isfinite(v).any():
        return "n/a"
    low, high = bootstrap_ci(v)
    return f"{interquartile_mean(v):.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _ms(values: Sequence[float], digits: int = 2) -> str:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return "n/a"
    return f"{v.mean():.{digits}f} +- {v.std():.{digits}f}"


def summary_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per method: mean and std over seeds of scores, returns and wall time."""
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == method]
        agg: dict[str, Any] = {"method": method, "label": rs[0]["label"], "seeds": len(rs),
                               "uses_expert_actions": bool(rs[0].get("uses_expert_actions")),
                               "interacts": get_method(method).interacts,
                               "env_steps": int(rs[0].get("env_steps", rs[0]["steps"])),
                               "updates_or_steps": int(rs[0]["steps"])}
        for key in ("sampled_score", "greedy_score", "sampled_mean", "greedy_mean", "wall_s"):
            v = np.asarray([r[key] for r in rs], dtype=float)
            agg[key] = {"mean": float(np.nanmean(v)) if np.isfinite(v).any() else float("nan"),
                        "std": float(np.nanstd(v)) if np.isfinite(v).any() else float("nan"),
                        "iqm": interquartile_mean(v), "ci95": list(bootstrap_ci(v))}
        out.append(agg)
    return out


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The results table, one line per method, then the floor and ceiling lines."""
    lines = [
        "| method | seeds | score (sampled) | score (greedy) | IQM score sampled [95% CI] "
        "| IQM score greedy [95% CI] | return (sampled) | return (greedy) | env steps "
        "| wall time (min) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == method]
        steps = int(rs[0]["steps"])
        env_steps = (f"{int(rs[0].get('env_steps', steps)):,}" if get_method(method).interacts
                     else f"0 (offline: {steps:,} updates)")
        lines.append(
            f"| {rs[0]['label']} | {len(rs)} | {_ms([r['sampled_score'] for r in rs])} "
            f"| {_ms([r['greedy_score'] for r in rs])} "
            f"| {_iqm_ci([r['sampled_score'] for r in rs])} "
            f"| {_iqm_ci([r['greedy_score'] for r in rs])} "
            f"| {_ms([r['sampled_mean'] for r in rs], 1)} "
            f"| {_ms([r['greedy_mean'] for r in rs], 1)} | {env_steps} "
            f"| {_ms([r['wall_s'] / 60 for r in rs], 1)} |")
    if rows:
        randoms = [r["random_return"] for r in rows]
        expert = float(rows[0]["expert_return"])
        lines.append(f"| random policy (floor; measured by each run) | {len(randoms)} runs "
                     f"| 0 | 0 | 0 | 0 | {_ms(randoms, 1)} | {_ms(randoms, 1)} | 0 | - |")
        lines.append(f"| expert (returns recorded with the videos; ceiling) | - | 1 | 1 | 1 | 1 "
                     f"| {expert:.1f} | {expert:.1f} | - | - |")
    return "\n".join(lines)


def write_outputs(
    rows: Sequence[dict[str, Any]], out: Path, *, command: str = "",
    cfg: BenchmarkConfig | None = None, json_path: Path | None = None,
) -> dict[str, Path]:
    """Write ``results.md``, ``results.json`` and ``learning_curves.png`` in ``out``; with
    ``json_path``, also the JSON there and the table and plot beside it (``.md``, ``.png``),
    small files meant to be committed (``out`` holds the runs' checkpoints)."""
    out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows)
    notes = (
        f"Methods marked [{ORACLE_NOTE}] see the recorded expert actions, which the other "
        "methods never do; runs marked [PRIVILEGED...] read the simulator's state instead of "
        "the video (the ideal encoder: a ceiling, not a result from video). Normalised "
        "score = (return - random) / (expert - random), with "
        "each run's own random-policy measurement and the expert return from the clips' "
        "sidecars; mean +- std over seeds, and the interquartile mean (IQM: the middle half "
        "of the seeds; with 3 seeds, the mean) with a 95% percentile-bootstrap interval "
        "over seeds (2000 resamples; coarse with few seeds); every method had the same "
        "env-step budget."
    )
    header = f"Command: `{command}`\n\n" if command else ""
    (out / "results.md").write_text(f"{header}{table}\n\n{notes}\n")
    data = {
        "command": command,
        "config": asdict(cfg) if cfg is not None else None,
        "summary": summary_rows(rows),
        "runs": list(rows),
    }
    text = json.dumps(data, indent=1, default=float)
    (out / "results.json").write_text(text)
    if json_path is not None:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(text)
        Path(json_path).with_suffix(".md").write_text((out / "results.md").read_text())
    curves: dict[str, list[list[dict[str, float]]]] = {}
    for r in rows:
        curves.setdefault(r["label"], []).append(r["curve"])
    expert = float(rows[0]["expert_return"]) if rows else None
    random = float(np.mean([r["random_return"] for r in rows])) if rows else None
    game = rows[0].get("game", "") if rows else ""
    plots.learning_curves(curves, out / "learning_curves.png", expert=expert, random=random,
                          title=f"{game}: mean over seeds +- std")
    if json_path is not None:
        shutil.copyfile(out / "learning_curves.png", Path(json_path).with_suffix(".png"))
    return {"table": out / "results.md", "json": out / "results.json",
            "plot": out / "learning_curves.png"}
