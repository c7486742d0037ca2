"""The online learning-from-video loop: state-only IQ-Learn on frozen encoder features.

Data flow: clips -> :func:`lfo.features.clip_features` (cached) -> expert pairs
``(z_t, z_t+1)``; the agent plays the env through the same Preprocess + encoder and
stores ``(z, a, z', done)``; each env step after ``learning_starts`` does one IQ update
(and, for the ``idm`` variant, one inverse-dynamics update on the agent's replay that
labels the expert pairs). Nothing here reads the expert actions saved beside the clips
(that is :mod:`lfo.labels`, used only by evaluation and oracle baselines).

Outputs in the run folder: ``config.json``, ``metrics.csv`` + TensorBoard events,
``eval.csv``, ``checkpoint/`` (atomic), ``final.json``, ``learning_curve.png``,
``agent.mp4`` and ``expert_reward.png``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm import tqdm

from lfo.agent import SoftQAgent, SoftQConfig
from lfo.data import ExpertPairs, ReplayBuffer
from lfo.envs import get_game, make_env
from lfo.evaluate import (
    EVAL_SEEDS,
    EvalResult,
    evaluate,
    normalised_score,
    random_policy,
)
from lfo.idm import IDMConfig, InverseDynamicsModel
from lfo.sidecar import read_metadata
from lfo.video import ClipFolder, scan_folder

#: training episodes use seeds far from the evaluation (0-9999) and demo (10000+) ranges
TRAIN_SEED_BASE = 1_000_000


class TrainingDiverged(RuntimeError):
    """A loss became NaN/inf; the last good checkpoint is kept."""


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json`` in the run folder)."""

    videos: str
    """Folder of expert clips (searched recursively); no action labels are used."""
    env: str | None = None
    """Game; default: the ``game`` field of the clips' sidecars (required without them)."""
    variant: Literal["idm", "state-only"] = "idm"
    """``idm`` (expert pairs labelled by an inverse dynamics model) or ``state-only``."""
    steps: int = 60_000
    """Env steps of interaction."""
    encoder: str | None = None
    """Encoder registry name or checkpoint path; default: the game's default encoder."""
    out: str | None = None
    """Run folder; default ``runs/<game>-<variant>-s<seed>``."""
    seed: int = 0
    """Seeds networks, sampling and the training episodes' env seeds."""
    batch_size: int = 128
    """Expert pairs and agent transitions per update (each)."""
    learning_starts: int = 2_000
    """Uniformly random env steps before the first update."""
    buffer_size: int = 200_000
    """Replay capacity (transitions)."""
    hidden: tuple[int, ...] = (256, 256)
    """Q-head MLP hidden sizes."""
    alpha: float = 0.01
    """Fixed policy temperature (a learned one destabilises IQ)."""
    gamma: float = 0.99
    """Discount."""
    chi2_alpha: float = 0.5
    """alpha_chi of the chi^2 regulariser, applied to expert AND agent samples."""
    lr: float = 3e-4
    """Q-head learning rate."""
    tau: float = 0.005
    """Target network Polyak rate."""
    grad_clip: float = 10.0
    """Gradient-norm clip of the Q head."""
    double_q: bool = False
    """Soft double-Q target."""
    idm_lr: float = 1e-3
    """Inverse dynamics model learning rate (``idm`` variant)."""
    idm_update_every: int = 2
    """Env steps between IDM gradient steps (supervised: needs fewer than the Q head)."""
    eval_every: int = 10_000
    """Env steps between evaluations."""
    eval_episodes: int = 3
    """Episodes per evaluation mode (greedy and sampled), on seeds 0, 1, ..."""
    final_eval_episodes: int = 5
    """Episodes per mode in the final evaluation."""
    random_episodes: int = 5
    """Episodes of a random policy measured once for the normalised score."""
    checkpoint_every: int = 5_000
    """Env steps between checkpoints."""
    max_episode_steps: int | None = None
    """Cap on training/eval episode length (``None``: the env's own)."""
    log_every: int = 250
    """Env steps between logged training diagnostics."""
    env_options: dict[str, Any] = field(default_factory=dict)
    """Shift settings for the agent's env (see :mod:`lfo.envs`)."""
    progress: bool = True
    """Show a tqdm progress bar."""
    resume: bool = False
    """Continue the run in ``out`` from its last checkpoint (its config.json wins)."""

    def resolved_out(self, game: str) -> Path:
        return Path(self.out or f"runs/{game}-{self.variant}-s{self.seed}")


# ----------------------------------------------------------------------------- setup
def infer_game(
    folder: ClipFolder, requested: str | None, metadata: list[dict] | None = None
) -> str:
    """The game to play: ``requested`` if given, else the clips' sidecars must agree."""
    if requested is not None:
        return get_game(requested).name
    metadata = clip_metadata(folder) if metadata is None else metadata
    games = {m.get("game") for m in metadata}
    games.discard(None)
    if len(games) == 1:
        return get_game(games.pop()).name
    if not games:
        raise ValueError(
            f"cannot tell which game the clips in {folder.root} show (no sidecar names one): "
            "pass --env carracing|pong|breakout"
        )
    raise ValueError(f"clips in {folder.root} come from several games {sorted(games)}: pass --env")


def clip_metadata(folder: ClipFolder) -> list[dict]:
    """Each clip's sidecar metadata (actions already dropped); ``{}`` where none."""
    return [read_metadata(c.path) or {} for c in folder]


def expert_return(folder: ClipFolder, metadata: list[dict] | None = None) -> float:
    """Mean return recorded in the clips' sidecars (``nan`` if none says)."""
    metadata = clip_metadata(folder) if metadata is None else metadata
    values = [m.get("return") for m in metadata]
    values = [float(v) for v in values if v is not None]
    return float(np.mean(values)) if values else float("nan")


def warn_on_mismatch(folder: ClipFolder, game: str) -> None:
    """Warn (once per kind) when clips must be resampled or resized to the env's view."""
    spec = get_game(game)
    hz, (h, w) = spec.control_hz(), spec.native_size
    off_rate = [c.path.name for c in folder if abs(c.fps - hz) > 0.01 * hz]
    off_size = [c.path.name for c in folder if (c.height, c.width) != (h, w)]
    if off_rate:
        warnings.warn(f"{len(off_rate)} clip(s) are not at {hz:g} fps (e.g. {off_rate[0]}): "
                      "resampled in time to the env's control rate", stacklevel=2)
    if off_size:
        warnings.warn(f"{len(off_size)} clip(s) are not {w}x{h} (e.g. {off_size[0]}): "
                      "resized to the env's observation size", stacklevel=2)


def default_encoder(game: str) -> str:
    """The encoder a run uses when none is named.

    The game family's shipped CNN if its weights file exists; otherwise (no Atari
    weights ship yet) the raw-pixel encoder, which probes best there (R^2 >= 0.978 on
    Pong, notes/encoder.md), with a warning. A *corrupt* weights file stays an error.
    """
    import encoders
    from encoders.registry import _FAMILIES, WEIGHTS_DIR

    name = encoders.default_for(game)
    if (WEIGHTS_DIR / f"{_FAMILIES[game]}.pt").is_file():
        return name
    warnings.warn(f"no shipped weights for {name}: using pixels-{game} "
                  "(create weights with scripts/pretrain_encoder.py)", stacklevel=2)
    return f"pixels-{game}"


class FeatureNormalizer:
    """Standardise features with the expert clips' mean and std (fixed for the run)."""

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean = mean.astype(np.float32)
        self.std = np.maximum(std, 1e-6).astype(np.float32)

    @classmethod
    def fit(cls, features: np.ndarray) -> FeatureNormalizer:
        return cls(features.mean(axis=0), features.std(axis=0))

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return (features - self.mean) / self.std


class EncodedPolicy:
    """Act on stacked frames: encode, normalise, then ask the agent."""

    def __init__(self, encoder, normalizer: FeatureNormalizer, agent: SoftQAgent, greedy: bool):
        self.encoder, self.normalizer, self.agent, self.greedy = encoder, normalizer, agent, greedy

    def features(self, obs: np.ndarray) -> np.ndarray:
        return self.normalizer(self.encoder.encode(obs[None])[0])

    def __call__(self, obs: np.ndarray) -> int:
        return int(self.agent.act(self.features(obs), greedy=self.greedy))


# ----------------------------------------------------------------------------- the run
class Trainer:
    """One run: build from a config, :meth:`run`, outputs in :attr:`out`."""

    def __init__(self, cfg: TrainConfig) -> None:
        import encoders
        from lfo.features import clip_features

        if cfg.variant not in ("idm", "state-only"):
            raise ValueError(f"variant must be 'idm' or 'state-only', got {cfg.variant!r}")
        self.cfg = cfg
        self.folder = scan_folder(cfg.videos)
        metadata = clip_metadata(self.folder)  # sidecars read once
        self.game = infer_game(self.folder, cfg.env, metadata)
        self.spec = get_game(self.game)
        self.out = cfg.resolved_out(self.game)
        warn_on_mismatch(self.folder, self.game)
        self.encoder = encoders.load(cfg.encoder or default_encoder(self.game))
        feats = [
            clip_features(c, self.encoder, self.game)
            for c in tqdm(self.folder.clips, desc="encoding clips", disable=not cfg.progress)
        ]
        self.normalizer = FeatureNormalizer.fit(np.concatenate(feats))
        self.expert = ExpertPairs.from_clips([self.normalizer(f) for f in feats])
        self.expert_clip = self.normalizer(feats[0])
        self.expert_return = expert_return(self.folder, metadata)

        self.env = make_env(self.game, **cfg.env_options)
        n_actions = int(self.env.action_space.n)
        dim = int(self.expert.obs.shape[1])
        self.agent = SoftQAgent(SoftQConfig(
            obs_dim=dim, n_actions=n_actions, hidden=tuple(cfg.hidden), variant=cfg.variant,
            alpha=cfg.alpha, gamma=cfg.gamma, chi2_alpha=cfg.chi2_alpha, lr=cfg.lr, tau=cfg.tau,
            grad_clip=cfg.grad_clip, double_q=cfg.double_q, seed=cfg.seed,
        ))
        self.idm = (
            InverseDynamicsModel(IDMConfig(dim, n_actions, lr=cfg.idm_lr, seed=cfg.seed))
            if cfg.variant == "idm" else None
        )
        self.replay = ReplayBuffer(min(cfg.buffer_size, cfg.steps), dim)
        self.rng = np.random.default_rng(cfg.seed)
        self.explore = random_policy(n_actions, seed=cfg.seed)
        self.step = 0
        self.episode = 0
        self.random_return: float | None = None
        self.last_return = float("nan")
        self.eval_rows: list[dict[str, Any]] = []
        self._idm_logs: dict[str, float] = {}

    # ---- persistence ----------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.out / "checkpoint"

    def save_checkpoint(self) -> None:
        """Write agent, IDM, replay and counters to ``checkpoint/`` atomically."""
        stage = self.out / "checkpoint.new"
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
        self.agent.save(stage / "agent.pt")
        if self.idm is not None:
            self.idm.save(stage / "idm.pt")
        torch.save({
            "step": self.step, "episode": self.episode, "random_return": self.random_return,
            "replay": self.replay.state_dict(), "rng": self.rng.bit_generator.state,
            "agent_rng": self.agent.rng.bit_generator.state,
            "normalizer": (self.normalizer.mean, self.normalizer.std),
            "eval_rows": self.eval_rows, "torch_rng": torch.get_rng_state(),
        }, stage / "state.pt")
        old = self.out / "checkpoint.old"
        shutil.rmtree(old, ignore_errors=True)
        if self.checkpoint_dir.exists():
            os.replace(self.checkpoint_dir, old)
        os.replace(stage, self.checkpoint_dir)
        shutil.rmtree(old, ignore_errors=True)

    def load_checkpoint(self) -> None:
        """Continue from ``checkpoint/`` (or ``checkpoint.old`` if a save was cut short).

        The replay, networks, optimisers, RNGs and counters are restored exactly; the
        env itself cannot be snapshotted, so training resumes at the start of a fresh
        episode (the documented approximation).
        """
        for folder in (self.checkpoint_dir, self.out / "checkpoint.old"):
            try:
                state = torch.load(folder / "state.pt", weights_only=False)
                agent = SoftQAgent.load(folder / "agent.pt")
                idm = InverseDynamicsModel.load(folder / "idm.pt") if self.idm else None
                break
            except Exception as exc:  # corrupt or partial: try the older copy
                last_error = exc
        else:
            raise RuntimeError(
                f"cannot resume from {self.checkpoint_dir}: no readable checkpoint "
                f"({type(last_error).__name__}: {last_error}); start without --resume"
            ) from last_error
        self.agent, self.idm = agent, idm
        self.replay.load_state_dict(state["replay"])
        self.rng.bit_generator.state = state["rng"]
        self.agent.rng.bit_generator.state = state["agent_rng"]
        torch.set_rng_state(state["torch_rng"])
        self.normalizer = FeatureNormalizer(*state["normalizer"])
        self.step, self.episode = int(state["step"]), int(state["episode"])
        self.random_return, self.eval_rows = state["random_return"], list(state["eval_rows"])

    # ---- one update -------------------------------------------------------------
    def update(self) -> dict[str, float]:
        """One IDM step (``idm`` variant) and one IQ step on fresh batches."""
        cfg = self.cfg
        agent_batch = self.replay.sample(cfg.batch_size, self.rng)
        expert_batch = self.expert.sample(cfg.batch_size, self.rng)
        logs: dict[str, float] = {}
        if self.idm is not None:
            if self.step % cfg.idm_update_every == 0 or not self._idm_logs:
                idm_batch = self.replay.sample(2 * cfg.batch_size, self.rng)
                self._idm_logs = self.idm.update(
                    idm_batch.obs, idm_batch.next_obs, idm_batch.action
                )
            logs.update(self._idm_logs)
            expert_batch = self.idm.label_batch(expert_batch, soft=True)
        logs.update(self.agent.update(expert_batch, agent_batch))
        if not all(math.isfinite(v) for v in logs.values()):
            bad = {k: v for k, v in logs.items() if not math.isfinite(v)}
            raise TrainingDiverged(
                f"non-finite training values at env step {self.step}: {bad}; the last good "
                f"checkpoint is in {self.checkpoint_dir} (try a lower --lr or a higher chi2_alpha)"
            )
        return logs

    # ---- evaluation -------------------------------------------------------------
    def policy(self, greedy: bool) -> EncodedPolicy:
        return EncodedPolicy(self.encoder, self.normalizer, self.agent, greedy)

    def evaluate(self, episodes: int, record: bool = False) -> dict[str, EvalResult]:
        seeds = list(EVAL_SEEDS[:episodes])
        kw = dict(env_options=self.cfg.env_options, max_steps=self.cfg.max_episode_steps)
        return {
            "greedy": evaluate(self.game, self.policy(True), seeds, mode="greedy",
                               record_first=record, **kw),
            "sampled": evaluate(self.game, self.policy(False), seeds, mode="sampled", **kw),
        }

    def eval_row(self, results: dict[str, EvalResult]) -> dict[str, Any]:
        row: dict[str, Any] = {"step": self.step}
        for mode, res in results.items():
            row[f"{mode}_mean"], row[f"{mode}_std"] = res.mean, res.std
            row[f"{mode}_score"] = normalised_score(
                res.mean, self.random_return, self.expert_return
            )
        row["greedy_first_actions"] = " ".join(
            str(a) for a in results["greedy"].episodes[0].first_actions
        )
        return row

    def measure_random(self) -> float:
        seeds = list(EVAL_SEEDS[: self.cfg.random_episodes])
        policy = random_policy(int(self.env.action_space.n), seed=12345)
        return evaluate(self.game, policy, seeds, max_steps=self.cfg.max_episode_steps).mean

    # ---- the loop ---------------------------------------------------------------
    def run(self, resume: bool = False) -> dict[str, Any]:
        """Train for ``cfg.steps`` env steps; return the final summary (also ``final.json``)."""
        from torch.utils.tensorboard import SummaryWriter

        cfg = self.cfg
        self.out.mkdir(parents=True, exist_ok=True)
        if resume:
            self.load_checkpoint()
        else:
            self._write_config()
        if self.random_return is None:
            self.random_return = self.measure_random()
        writer = SummaryWriter(str(self.out / "tb"))
        metrics = _CsvLog(self.out / "metrics.csv", append=resume)
        bar = tqdm(total=cfg.steps, initial=self.step, desc=f"{self.game} {cfg.variant}",
                   unit="step", disable=not cfg.progress, smoothing=0.05)
        policy = self.policy(greedy=False)
        obs, _ = self.env.reset(seed=TRAIN_SEED_BASE + 100_000 * cfg.seed + self.episode)
        z = policy.features(obs)
        ep_return, ep_len, t0, logs = 0.0, 0, time.time(), {}
        while self.step < cfg.steps:
            # -- act
            if self.step < cfg.learning_starts:
                action = self.explore(obs)
            else:
                action = int(self.agent.act(z, greedy=False))
            obs, reward, terminated, truncated, _ = self.env.step(action)
            z_next = policy.features(obs)
            ep_return, ep_len = ep_return + float(reward), ep_len + 1
            truncated = truncated or (cfg.max_episode_steps is not None
                                      and ep_len >= cfg.max_episode_steps)
            # time-limit truncation is not termination: V(s') is still bootstrapped
            self.replay.add(z, action, z_next, terminated)
            z = z_next
            self.step += 1
            bar.update(1)
            # -- learn
            if self.step >= cfg.learning_starts:
                logs = self.update()
            if terminated or truncated:
                self.episode += 1
                self.last_return = ep_return
                writer.add_scalar("train/episode_return", ep_return, self.step)
                writer.add_scalar("train/episode_length", ep_len, self.step)
                obs, _ = self.env.reset(seed=TRAIN_SEED_BASE + 100_000 * cfg.seed + self.episode)
                z = policy.features(obs)
                ep_return, ep_len = 0.0, 0
            # -- log, evaluate, checkpoint
            if logs and self.step % cfg.log_every == 0:
                sps = cfg.log_every / max(time.time() - t0, 1e-9)
                t0 = time.time()
                row = {"step": self.step, "episode": self.episode, "steps_per_s": sps,
                       "last_return": self.last_return, **logs}
                metrics.write(row)
                for key, value in row.items():
                    if key != "step":
                        writer.add_scalar(f"train/{key}", value, self.step)
                bar.set_postfix(ret=f"{self.last_return:.1f}", sps=f"{sps:.0f}")
            if self.step % cfg.eval_every == 0 or self.step == cfg.steps:
                row = self.eval_row(self.evaluate(cfg.eval_episodes))
                self.eval_rows.append(row)
                for key in ("greedy_mean", "sampled_mean", "greedy_score", "sampled_score"):
                    writer.add_scalar(f"eval/{key}", row[key], self.step)
                _write_rows(self.out / "eval.csv", self.eval_rows)
                tqdm.write(f"[eval @ {self.step}] greedy {row['greedy_mean']:.1f} "
                           f"sampled {row['sampled_mean']:.1f} "
                           f"(score {row['sampled_score']:.2f})")
            if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                self.save_checkpoint()
        bar.close()
        writer.close()
        metrics.close()
        return self.finish()

    def finish(self) -> dict[str, Any]:
        """Final evaluation, plots, agent video and ``final.json``."""
        from lfo import plots
        from lfo.video import write_clip

        results = self.evaluate(self.cfg.final_eval_episodes, record=True)
        frames = results["greedy"].episodes[0].frames
        write_clip(self.out / "agent.mp4", frames, fps=self.spec.control_hz(self.cfg.env_options))
        plots.learning_curve(self.eval_rows, self.out / "learning_curve.png",
                             expert=self.expert_return, random=self.random_return,
                             title=f"{self.game} ({self.cfg.variant})")
        rewards = self.recovered_reward(self.expert_clip)
        plots.reward_along_clip(rewards, self.out / "expert_reward.png",
                                fps=self.spec.control_hz(), title=self.folder.clips[0].path.name)
        summary = {
            "game": self.game, "variant": self.cfg.variant, "steps": self.step,
            "expert_return": self.expert_return, "random_return": self.random_return,
            **{f"{m}_{k}": v for m, r in results.items()
               for k, v in (("mean", r.mean), ("std", r.std))},
            **{f"{m}_score": normalised_score(r.mean, self.random_return, self.expert_return)
               for m, r in results.items()},
            "eval_seeds": list(EVAL_SEEDS[: self.cfg.final_eval_episodes]),
            "episodes": {m: r.summary() for m, r in results.items()},
        }
        (self.out / "final.json").write_text(json.dumps(summary, indent=1, default=float))
        return summary

    @torch.no_grad()
    def recovered_reward(self, clip_features: np.ndarray) -> np.ndarray:
        """Implicit reward r(s, s') = E_a[Q(s, a)] - gamma V(s') along one expert clip.

        The action distribution is the IDM's p(a | s, s') (``idm``) or the agent's
        policy pi(a | s) (``state-only``), matching each variant's expert term.
        """
        from lfo import iq

        s = torch.from_numpy(clip_features[:-1]).float()
        s_next = torch.from_numpy(clip_features[1:]).float()
        alpha, gamma = self.agent.config.alpha, self.agent.config.gamma
        q = self.agent.q(s)
        v_next = iq.soft_value(self.agent.q(s_next), alpha)
        weights = self.idm.label(s, s_next) if self.idm is not None else iq.policy_probs(q, alpha)
        return ((weights * q).sum(dim=1) - gamma * v_next).numpy()

    def _write_config(self) -> None:
        data = dataclasses.asdict(self.cfg)
        data.update(game=self.game, encoder_id=self.encoder.spec.id,
                    clips=[str(c.path) for c in self.folder.clips])
        (self.out / "config.json").write_text(json.dumps(data, indent=1))


class _CsvLog:
    """Append rows to a CSV whose columns are fixed by the first row."""

    def __init__(self, path: Path, append: bool) -> None:
        self.path, self.file, self.writer = path, None, None
        self.append = append and path.exists()

    def write(self, row: dict[str, Any]) -> None:
        if self.writer is None:
            self.file = open(self.path, "a" if self.append else "w", newline="")  # noqa: SIM115
            self.writer = csv.DictWriter(self.file, fieldnames=list(row), extrasaction="ignore")
            if not self.append:
                self.writer.writeheader()
        self.writer.writerow(row)
        self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def load_run_config(out: str | Path, **overrides: Any) -> TrainConfig:
    """The config saved in a run folder, with ``overrides`` (e.g. a larger ``steps``)."""
    path = Path(out) / "config.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"cannot resume: {path} is missing or unreadable ({exc})") from exc
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    data = {k: v for k, v in data.items() if k in names}
    data["hidden"] = tuple(data["hidden"])
    return TrainConfig(**{**data, **overrides, "out": str(out), "resume": True})


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run (or, with ``cfg.resume``, continue) a training run: the library entry point."""
    return Trainer(cfg).run(resume=cfg.resume)
