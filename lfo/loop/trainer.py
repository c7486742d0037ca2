"""The online learning-from-video loop: state-only IQ-Learn on frozen encoder features.

Data flow: clips -> :func:`lfo.data.features.clip_features` (cached) -> expert pairs
``(z_t, z_t+1)``; the agent plays the env through the same Preprocess + encoder and
stores ``(z, a, z', done)``; each env step after ``learning_starts`` does one update of
the run's learner (:mod:`lfo.algorithms.methods`: by default IQ-Learn, whose ``idm`` variant also
takes an inverse-dynamics step on the agent's replay that labels the expert pairs; or
BCO, GAIfO and the oracles, all through the same loop). Nothing on the learning-from-video
path reads the expert actions saved beside the clips; only ``method="oracle-*"`` does,
through :mod:`lfo.algorithms.oracle` and :mod:`lfo.demonstrations.labels`.

Outputs in the run folder: ``config.json``, ``metrics.csv`` + TensorBoard events,
``eval.csv``, ``checkpoint/`` (atomic), ``final.json``, ``learning_curve.png``,
``agent.mp4`` and ``expert_reward.png``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import math
import os
import shutil
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm import tqdm

from encoders.privileged import is_privileged
from encoders.registry import check_encoder_fits
from lfo.algorithms.exploration import EzGreedy
from lfo.algorithms.methods import Learner, LearnerSettings, build_learner, get_method
from lfo.data.sidecar import read_metadata
from lfo.data.transitions import ExpertPairs, ReplayBuffer
from lfo.data.video import ClipFolder, scan_folder
from lfo.envs.evaluate import (
    EVAL_SEEDS,
    EvalResult,
    evaluate,
    normalised_score,
    random_policy,
)
from lfo.envs.games import env_options_with_repeat, get_game, make_env

#: how runs on the ideal encoder (``--encoder state-<game>``) are marked in labels and tables
PRIVILEGED_NOTE = "PRIVILEGED: reads the simulator's state"

#: training episodes use seeds far from the evaluation (0-9999) and demo (10000+) ranges
TRAIN_SEED_BASE = 1_000_000


class TrainingDiverged(RuntimeError):
    """A loss became NaN/inf; the last good checkpoint is kept."""


class RunFolderExists(ValueError):
    """A new run was asked to write into a folder that already holds a run."""


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json`` in the run folder)."""

    videos: str
    """Folder of expert clips (searched recursively); no action labels are used."""
    env: str | None = None
    """Game; default: the ``game`` field of the clips' sidecars (required without them)."""
    variant: Literal["idm", "state-only"] = "idm"
    """``idm`` (expert pairs labelled by an inverse dynamics model) or ``state-only``."""
    method: str | None = None
    """Learner (:mod:`lfo.algorithms.methods`): ``iq-idm``, ``iq-state-only``, ``bco``, ``gaifo``,
    ``oracle-iq``, ``oracle-bc`` (oracles use the recorded expert actions). Default:
    ``iq-<variant>``."""
    method_options: dict[str, Any] = field(default_factory=dict)
    """Options of the method's own config (e.g. ``{"gp_weight": 1.0}`` for gaifo)."""
    steps: int = 60_000
    """Env steps of interaction."""
    encoder: str | None = None
    """Encoder registry name or checkpoint path; default: the game's default encoder."""
    out: str | None = None
    """Run folder; default ``runs/<game>-<variant>[-<video_shift>]-s<seed>``."""
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
    grad_penalty: float = 0.0
    """IQ: weight of a 1-Lipschitz penalty on V along expert-agent segments (0 = off)."""
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
    """Shift settings for the agent's env (see :mod:`lfo.envs.games`)."""
    explore_mean_hold: float = 1.0
    """Warm-up exploration (the first ``learning_starts`` steps): uniformly random actions,
    each held for a geometric number of agent steps with this mean (1 = a new one each
    step). The IDM learns from this play first."""
    explore_epsilon: float = 0.0
    """After warm-up, ez-greedy: at each agent decision outside a random hold, start a
    uniformly random action held for a geometric number of steps (mean
    ``explore_mean_hold``) with this probability (0 = the learner's own play only)."""
    action_repeat: int = 1
    """Hold each agent action for this many env steps; the clips are then decoded at the
    same lower rate, so an expert pair spans the same time as one agent step."""
    video_shift: str | None = None
    """Train from a shifted copy of the videos (``fps25``, ``up2x``, ``mixed-skill``...; see
    :mod:`lfo.data.shifts`), built once under ``.cache/shifted/``."""
    progress: bool = True
    """Show a tqdm progress bar."""
    resume: bool = False
    """Continue the run in ``out`` from its last checkpoint (its config.json wins)."""
    force: bool = False
    """Start afresh in an ``out`` that already holds a run (its files are replaced)."""
    first_checkpoint: int = 1_000
    """Env steps before the first checkpoint (then every ``checkpoint_every``), so a run
    killed in its first minutes can still be resumed."""

    def agent_env_options(self) -> dict[str, Any]:
        """The env options of the agent's world: ``env_options`` plus the action repeat."""
        return env_options_with_repeat(self.env_options, self.action_repeat)

    @property
    def resolved_method(self) -> str:
        """The learner's registry name: ``method``, or ``iq-<variant>`` when unset."""
        return self.method or f"iq-{self.variant}"

    def resolved_out(self, game: str) -> Path:
        shift = f"-{self.video_shift}" if self.video_shift else ""
        name = self.method or self.variant
        return Path(self.out or f"runs/{game}-{name}{shift}-s{self.seed}")


# ----------------------------------------------------------------------------- setup
def infer_game(
    folder: ClipFolder, requested: str | None, metadata: list[dict] | None = None
) -> str:
    """The game to play: ``requested`` if given, else the clips' sidecars must agree."""
    metadata = clip_metadata(folder) if metadata is None else metadata
    games = set()
    for m in metadata:  # a sidecar names its game, or at least its gymnasium env id
        name = m.get("game") or m.get("env_id")
        if name is not None:
            try:
                games.add(get_game(name).name)
            except ValueError:
                games.add(str(name))
    if requested is not None:
        game = get_game(requested).name
        others = sorted(games - {game})
        if others:
            raise ValueError(f"--env {game} but the clips in {folder.root} are from "
                             f"{', '.join(others)} (their sidecars say so): pass the clips' "
                             "game, or clips of this game")
        return game
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
    capped = sum(_capped(m) for m in metadata)
    if capped:
        warnings.warn(f"{capped} of {len(metadata)} clips in {folder.root} are capped or partial "
                      "episodes: the expert return (the score's 1.0) is their mean, not that of "
                      "full episodes", stacklevel=2)
    return float(np.mean(values)) if values else float("nan")


def _capped(meta: dict) -> bool:
    """Whether a clip's sidecar says it was cut short of a full episode: truncated before
    the env's own time limit (a recorder cap), not ended by the game or that limit."""
    if not meta.get("truncated") or meta.get("terminated"):
        return False
    try:
        import gymnasium as gym

        limit = gym.spec(meta.get("env_id", "")).max_episode_steps
    except Exception:
        limit = None
    return limit is None or int(meta.get("length", 0)) < limit


def warn_on_mismatch(folder: ClipFolder, game: str, action_repeat: int = 1) -> None:
    """Warn (once per kind) when clips must be resampled or resized to the env's view.

    With an action repeat, clips at the game's native control rate are decoded at the
    lower rate on purpose: only clips at neither rate are reported."""
    spec = get_game(game)
    hz, (h, w) = spec.control_hz(), spec.native_size
    rates = (hz, hz / action_repeat)
    off_rate = [c.path.name for c in folder if all(abs(c.fps - r) > 0.01 * r for r in rates)]
    off_size = [c.path.name for c in folder if (c.height, c.width) != (h, w)]
    if off_rate:
        warnings.warn(f"{len(off_rate)} clip(s) are not at {hz:g} fps (e.g. {off_rate[0]}): "
                      "resampled in time to the env's control rate", stacklevel=2)
    if off_size:
        warnings.warn(f"{len(off_size)} clip(s) are not {w}x{h} (e.g. {off_size[0]}): "
                      "resized to the env's observation size", stacklevel=2)


def default_encoder(game: str) -> str:
    """The encoder a run uses when none is named.

    The game family's shipped CNN (``default-carracing``; ``default-atari``, trained on
    Pong) if its weights file exists; otherwise, with a warning, the raw-pixel encoder
    (e.g. in a checkout without ``encoders/weights/``). A *corrupt* weights file stays an
    error.
    """
    import encoders
    from encoders.registry import default_weights

    name = encoders.default_for(game)
    if default_weights(game).is_file():
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
    """Act on stacked frames: encode, normalise, then ask the agent (anything with ``act``)."""

    def __init__(self, encoder, normalizer: FeatureNormalizer, agent, greedy: bool):
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
        from lfo.data.features import clip_features, encoder_view

        if cfg.variant not in ("idm", "state-only"):
            raise ValueError(f"variant must be 'idm' or 'state-only', got {cfg.variant!r}")
        self.method = get_method(cfg.resolved_method)
        self.cfg = cfg
        self.folder = scan_folder(self.videos_dir())
        metadata = clip_metadata(self.folder)  # sidecars read once
        self.game = infer_game(self.folder, cfg.env, metadata)
        self.spec = get_game(self.game)
        self.out = cfg.resolved_out(self.game)
        warn_on_mismatch(self.folder, self.game, cfg.action_repeat)
        self.env_options = cfg.agent_env_options()
        self.control_hz = self.spec.control_hz(self.env_options)
        self.encoder = encoders.load(cfg.encoder or default_encoder(self.game))
        check_encoder_fits(self.encoder, self.game)
        self.privileged = is_privileged(self.encoder)
        self.view = encoder_view(self.encoder, self.game)
        if self.privileged:  # PRIVILEGED REFERENCE (ideal encoder): the simulator's state
            from lfo.demonstrations.privileged_clips import clip_states

            feats = [
                clip_states(c.path, self.game, control_hz=self.control_hz)[0]
                for c in tqdm(self.folder.clips, desc="replaying expert states",
                              disable=not cfg.progress)
            ]
        else:
            feats = [
                clip_features(c, self.encoder, self.game, preprocess=self.view,
                              control_hz=self.control_hz)
                for c in tqdm(self.folder.clips, desc="encoding clips", disable=not cfg.progress)
            ]
        self.normalizer = FeatureNormalizer.fit(np.concatenate(feats))
        self.expert = ExpertPairs.from_clips([self.normalizer(f) for f in feats])
        if self.method.uses_expert_actions:  # ORACLES ONLY: the recorded expert actions
            from lfo.algorithms.oracle import expert_pair_actions

            self.expert = self.expert.with_actions(expert_pair_actions(
                [c.path for c in self.folder.clips], [len(f) for f in feats],
                repeat=cfg.action_repeat))
        self.expert_clip = self.normalizer(feats[0])
        self.expert_return = expert_return(self.folder, metadata)

        self.env = make_env(self.game, preprocess=self.view, observe_state=self.privileged,
                            **self.env_options)
        n_actions = int(self.env.action_space.n)
        dim = int(self.expert.obs.shape[1])
        self.settings = LearnerSettings(
            obs_dim=dim, n_actions=n_actions, hidden=tuple(cfg.hidden), alpha=cfg.alpha,
            gamma=cfg.gamma, chi2_alpha=cfg.chi2_alpha, lr=cfg.lr, tau=cfg.tau,
            grad_clip=cfg.grad_clip, double_q=cfg.double_q, grad_penalty=cfg.grad_penalty,
            idm_lr=cfg.idm_lr,
            idm_update_every=cfg.idm_update_every, seed=cfg.seed,
        )
        self.learner = self.build_learner()
        # an offline learner (oracle-bc) never fills the replay
        capacity = min(cfg.buffer_size, cfg.steps) if self.method.interacts else 1
        self.replay = ReplayBuffer(capacity, dim)
        self.rng = np.random.default_rng(cfg.seed)
        # warm-up play: uniformly random actions held for a geometric number of steps (its
        # generator is checkpointed, so a resumed warm-up continues the same draws)
        self.warmup = EzGreedy(n_actions, 1.0, cfg.explore_mean_hold, seed=(cfg.seed, 1))
        self.ez_greedy = EzGreedy(n_actions, cfg.explore_epsilon, cfg.explore_mean_hold,
                                  seed=(cfg.seed, 2))
        self.step = 0
        self.episode = 0
        self.random_return: float | None = None
        self.last_return = float("nan")
        self.eval_rows: list[dict[str, Any]] = []

    def build_learner(self) -> Learner:
        """A fresh learner of the configured method (fresh batches come from the replay)."""
        return build_learner(
            self.method.name, self.settings,
            sample_agent=lambda n: self.replay.sample(n, self.rng),
            options=self.cfg.method_options,
        )

    @property
    def label(self) -> str:
        """The method's label, marked when the run reads the simulator's state."""
        return f"{self.method.label} [{PRIVILEGED_NOTE}]" if self.privileged else self.method.label

    @property
    def agent(self) -> Learner:
        """The run's learner (alias kept from when every run was a soft-Q agent)."""
        return self.learner

    @property
    def env_steps(self) -> int:
        """Env steps taken for learning: agent steps x the action repeat (0 for an offline
        learner: its steps are updates)."""
        return self.step * self.cfg.action_repeat if self.method.interacts else 0

    # ---- persistence ----------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path:
        return self.out / "checkpoint"

    def save_checkpoint(self) -> None:
        """Write the learner (networks, optimisers, its generator), replay and counters to
        ``checkpoint/`` atomically."""
        stage = self.out / "checkpoint.new"
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
        self.learner.save(stage)
        torch.save({
            "step": self.step, "episode": self.episode, "random_return": self.random_return,
            "replay": self.replay.state_dict(), "rng": self.rng.bit_generator.state,
            "method": self.method.name,
            "normalizer": (self.normalizer.mean, self.normalizer.std),
            "eval_rows": self.eval_rows, "torch_rng": torch.get_rng_state(),
            "ez_greedy": self.ez_greedy.state_dict(), "warmup": self.warmup.state_dict(),
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
                learner = self.build_learner()
                learner.load(folder)
                break
            except Exception as exc:  # corrupt or partial: try the older copy
                last_error = exc
        else:
            raise RuntimeError(
                f"cannot resume from {self.checkpoint_dir}: no readable checkpoint "
                f"({type(last_error).__name__}: {last_error}); start it again with --force"
            ) from last_error
        self.learner = learner
        if "agent_rng" in state:  # a checkpoint from before the learner interface (IQ only)
            self.learner.agent.rng.bit_generator.state = state["agent_rng"]
        self.replay.load_state_dict(state["replay"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        if "ez_greedy" in state:  # absent in checkpoints from before the option
            self.ez_greedy.load_state_dict(state["ez_greedy"])
            self.ez_greedy.end_episode()  # resume starts a fresh episode
        if "warmup" in state:  # absent in checkpoints from before it was saved
            self.warmup.load_state_dict(state["warmup"])
            self.warmup.end_episode()
        self.normalizer = FeatureNormalizer(*state["normalizer"])
        self.step, self.episode = int(state["step"]), int(state["episode"])
        self.random_return, self.eval_rows = state["random_return"], list(state["eval_rows"])

    # ---- one update -------------------------------------------------------------
    def update(self) -> dict[str, float]:
        """One learner step on a fresh agent batch and a fresh expert batch (for IQ-idm: one
        IDM step on its own schedule and one IQ step)."""
        cfg = self.cfg
        agent_batch = (self.replay.sample(cfg.batch_size, self.rng)
                       if self.method.interacts else None)
        expert_batch = self.expert.sample(cfg.batch_size, self.rng)
        logs = self.learner.update(expert_batch, agent_batch, self.step)
        if not all(math.isfinite(v) for v in logs.values()):
            bad = {k: v for k, v in logs.items() if not math.isfinite(v)}
            raise TrainingDiverged(
                f"non-finite training values at env step {self.step}: {bad}; the last good "
                f"checkpoint is in {self.checkpoint_dir} (try a lower --lr or a higher chi2_alpha)"
            )
        return logs

    # ---- evaluation -------------------------------------------------------------
    def policy(self, greedy: bool) -> EncodedPolicy:
        return EncodedPolicy(self.encoder, self.normalizer, self.learner, greedy)

    def evaluate(self, episodes: int, record: bool = False) -> dict[str, EvalResult]:
        seeds = list(EVAL_SEEDS[:episodes])
        kw = dict(env_options=self.env_options, max_steps=self.cfg.max_episode_steps,
                  preprocess=self.view, observe_state=self.privileged)
        show = self.cfg.progress
        return {
            "greedy": evaluate(self.game, self.policy(True), seeds, mode="greedy",
                               record_first=record, progress="eval greedy" if show else None,
                               **kw),
            "sampled": evaluate(self.game, self.policy(False), seeds, mode="sampled",
                                progress="eval sampled" if show else None, **kw),
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
        """The random policy's mean return in the agent's own world (its env options and
        action repeat), the 0 of the normalised score."""
        seeds = list(EVAL_SEEDS[: self.cfg.random_episodes])
        policy = random_policy(int(self.env.action_space.n), seed=12345)
        return evaluate(self.game, policy, seeds, max_steps=self.cfg.max_episode_steps,
                        env_options=self.env_options,
                        progress="random-policy floor" if self.cfg.progress else None).mean

    # ---- the loop ---------------------------------------------------------------
    def run(self, resume: bool = False) -> dict[str, Any]:
        """Train for ``cfg.steps`` env steps; return the final summary (also ``final.json``)."""
        from torch.utils.tensorboard import SummaryWriter

        if not resume:
            self.claim_run_folder()
        self.out.mkdir(parents=True, exist_ok=True)
        say(f"run folder: {self.out}")
        if resume:
            self.load_checkpoint()
            _drop_rows_after(self.out / "metrics.csv", self.step)  # logged after the checkpoint
        else:
            self._write_config()
        if self.random_return is None:
            self.random_return = self.measure_random()
        writer = SummaryWriter(str(self.out / "tb"))
        metrics = _CsvLog(self.out / "metrics.csv", append=resume)
        try:
            with _sigterm_as_interrupt():
                self._loop(writer, metrics)
        except KeyboardInterrupt:
            self.save_checkpoint()
            raise TrainingInterrupted(
                f"interrupted at step {self.step}: checkpoint saved in {self.checkpoint_dir}; "
                f"continue with: python scripts/train_lfo.py --out {self.out} --resume"
            ) from None
        finally:
            writer.close()
            metrics.close()
        return self.finish()

    def claim_run_folder(self) -> None:
        """Refuse to start a new run in a folder that holds one, unless ``force``."""
        if not (self.out / "config.json").exists():
            return
        if not self.cfg.force:
            raise RunFolderExists(
                f"{self.out} already holds a run: continue it with --resume, replace it with "
                "--force, or pick another --out")
        for name in ("checkpoint", "checkpoint.old", "checkpoint.new", "tb"):
            shutil.rmtree(self.out / name, ignore_errors=True)
        for name in ("metrics.csv", "eval.csv", "final.json", "config.json"):
            (self.out / name).unlink(missing_ok=True)

    def _loop(self, writer, metrics: _CsvLog) -> None:
        """Act, learn, log, evaluate and checkpoint until ``cfg.steps``."""
        cfg = self.cfg
        interacts = self.method.interacts
        bar = tqdm(total=cfg.steps, initial=self.step, desc=f"{self.game} {self.method.name}",
                   unit="step" if interacts else "update", disable=not cfg.progress,
                   smoothing=0.05)
        policy = self.policy(greedy=False)
        obs, _ = self.env.reset(seed=TRAIN_SEED_BASE + 100_000 * cfg.seed + self.episode)
        z = policy.features(obs)
        ep_return, ep_len, t0, logs = 0.0, 0, time.time(), {}
        terminated = truncated = False
        while self.step < cfg.steps:
            # -- act (an offline learner takes no env step: its steps are updates)
            if interacts:
                if self.step < cfg.learning_starts:
                    action = self.warmup(lambda: 0)  # epsilon 1: always its own draw
                else:
                    action = self.ez_greedy(lambda z=z: self.learner.act(z, greedy=False))
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
            if self.step >= cfg.learning_starts or not interacts:
                logs = self.update()
            if terminated or truncated:
                self.episode += 1
                self.ez_greedy.end_episode()
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
                ret = f"{self.last_return:.1f}" if math.isfinite(self.last_return) else "-"
                bar.set_postfix(ret=ret, sps=f"{sps:.0f}")
            if self.step % cfg.eval_every == 0 or self.step == cfg.steps:
                row = self.eval_row(self.evaluate(cfg.eval_episodes))
                self.eval_rows.append(row)
                for key in ("greedy_mean", "sampled_mean", "greedy_score", "sampled_score"):
                    writer.add_scalar(f"eval/{key}", row[key], self.step)
                _write_rows(self.out / "eval.csv", self.eval_rows)
                tqdm.write(f"[eval @ {self.step}] greedy {row['greedy_mean']:.1f} "
                           f"sampled {row['sampled_mean']:.1f} "
                           f"(score {row['sampled_score']:.2f})")
            if (self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps
                    or self.step == cfg.first_checkpoint):
                self.save_checkpoint()
        bar.close()

    def finish(self) -> dict[str, Any]:
        """Final evaluation, plots, agent video and ``final.json``."""
        from lfo.analysis import plots
        from lfo.data.video import write_clip

        say(f"final evaluation: {self.cfg.final_eval_episodes} greedy + "
            f"{self.cfg.final_eval_episodes} sampled episodes")
        results = self.evaluate(self.cfg.final_eval_episodes, record=True)
        frames = results["greedy"].episodes[0].frames
        say(f"writing {self.out / 'agent.mp4'} and the plots")
        write_clip(self.out / "agent.mp4", frames, fps=self.control_hz)
        plots.learning_curve(self.eval_rows, self.out / "learning_curve.png",
                             expert=self.expert_return, random=self.random_return,
                             title=f"{self.game} ({self.label})")
        rewards = self.recovered_reward(self.expert_clip)
        if rewards is not None:  # methods without a reward (BC, BCO) have no such plot
            plots.reward_along_clip(rewards, self.out / "expert_reward.png",
                                    fps=self.control_hz,
                                    title=self.folder.clips[0].path.name)
        summary = {
            "game": self.game, "variant": self.cfg.variant, "method": self.method.name,
            "method_label": self.label,
            "uses_expert_actions": self.method.uses_expert_actions,
            "encoder": self.encoder.spec.name, "encoder_id": self.encoder.spec.id,
            "privileged_state": self.privileged,
            "steps": self.step, "env_steps": self.env_steps,
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
    def recovered_reward(self, clip_features: np.ndarray) -> np.ndarray | None:
        """The learner's reward r(s, s') along one expert clip (``None`` if it has none).

        IQ: the implicit reward E_a[Q(s, a)] - gamma V(s'), with a from the IDM's
        p(a | s, s') (``idm``) or the policy pi(a | s); GAIfO: the discriminator's logit.
        """
        s = torch.from_numpy(clip_features[:-1]).float()
        s_next = torch.from_numpy(clip_features[1:]).float()
        return self.learner.expert_reward(s, s_next)

    def videos_dir(self) -> str | Path:
        """The folder trained from: ``cfg.videos``, or its copy under ``cfg.video_shift``."""
        if self.cfg.video_shift is None:
            return self.cfg.videos
        from lfo.data.shifted_videos import apply_video_shift

        return apply_video_shift(self.cfg.videos, self.cfg.video_shift,
                                 progress=self.cfg.progress)

    def _write_config(self) -> None:
        data = dataclasses.asdict(self.cfg)
        data.update(game=self.game, encoder_id=self.encoder.spec.id,
                    resolved_method=self.method.name,
                    shifted_videos=str(self.folder.root) if self.cfg.video_shift else None,
                    clips=[str(c.path) for c in self.folder.clips])
        (self.out / "config.json").write_text(json.dumps(data, indent=1))


class TrainingInterrupted(RuntimeError):
    """Ctrl-C or SIGTERM: a checkpoint was saved; the message says how to resume."""


def say(line: str) -> None:
    """One line of progress for the user (through tqdm, so bars are not broken)."""
    tqdm.write(line)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Within the block, SIGTERM (a scheduler's kill) raises KeyboardInterrupt, like Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _drop_rows_after(path: Path, step: int) -> None:
    """Keep only the CSV rows logged at or before ``step`` (rows after the checkpoint are
    logged again by the resumed run)."""
    if not path.is_file():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    kept = [r for r in rows if float(r["step"]) <= step]
    if len(kept) != len(rows):
        _write_rows(path, kept)


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
