"""The online learning-from-video loop: state-only IQ-Learn on frozen encoder features.

Data flow: clips -> :func:`encoders.clip_features.clip_features` (cached) -> expert pairs
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

import dataclasses
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from lfo.algorithms.exploration import EzGreedy
from lfo.algorithms.learner import UNSET_LEARNER_DEFAULTS, resolve_device
from lfo.algorithms.methods import Learner, build_learner, get_method
from lfo.algorithms.oracle import expert_pair_actions  # oracles only: reads the labels on call
from lfo.data.transitions import ExpertPairs, ReplayBuffer
from lfo.data.video import write_clip
from lfo.demonstrations.clips import expert_return
from lfo.envs.evaluate import (
    EVAL_SEEDS,
    EvalResult,
    evaluate,
    normalised_score,
    random_policy,
)
from lfo.envs.games import GAME_RUN_DEFAULTS, GameSpec, make_env
from lfo.envs.vector import EpisodeSeeds, make_vector_env, reset_finished
from lfo.loop import plots
from lfo.loop.checkpoint import EVAL_CHECKPOINTS, read_checkpoint, write_checkpoint
from lfo.loop.clip_source import clip_source_features, first_clips, open_clips
from lfo.loop.config import TRAIN_SEED_BASE, TrainConfig
from lfo.loop.logs import CsvLog, drop_rows_after, say, sigterm_as_interrupt, write_rows
from lfo.loop.policy import EncodedPolicy, FeatureNormalizer
from lfo.loop.selection import chamfer_distance, spearman
from lfo.shifts.folders import apply_video_shift

#: agent steps of recent play compared with the clips' states at each evaluation
SELECTION_WINDOW = 5_000

#: how runs on the ideal encoder (``--encoder state-<game>``) are marked in labels and tables
PRIVILEGED_NOTE = "PRIVILEGED: reads the simulator's state"


class TrainingDiverged(RuntimeError):
    """A loss became NaN/inf; the last good checkpoint is kept."""


class RunFolderExists(ValueError):
    """A new run was asked to write into a folder that already holds a run."""


class TrainingInterrupted(RuntimeError):
    """Ctrl-C or SIGTERM: a checkpoint was saved; the message says how to resume."""


# ----------------------------------------------------------------------------- the run
class Trainer:
    """One run: build from a config, :meth:`run`, outputs in :attr:`out`."""

    def __init__(self, cfg: TrainConfig) -> None:
        if cfg.variant not in ("idm", "state-only"):
            raise ValueError(f"variant must be 'idm' or 'state-only', got {cfg.variant!r}")
        self.method = get_method(cfg.resolved_method)
        self.cfg = cfg
        self.env_options = cfg.agent_env_options()
        source = open_clips(self.videos_dir(), env=cfg.env, encoder=cfg.encoder,
                            env_options=self.env_options,
                            action_repeat=cfg.action_repeat, progress=cfg.progress)
        # the score's 1.0: the demonstrator's level over the whole folder, whatever max_clips
        self.expert_return = expert_return(source.folder, source.metadata)
        source = first_clips(source, cfg.max_clips)
        self.folder, self.game = source.folder, source.game
        self.spec, self.encoder, self.view = source.spec, source.encoder, source.view
        self.privileged, self.control_hz = source.privileged, source.control_hz
        if cfg.steps is None:  # the game's own budget; config.json records the number
            cfg = self.cfg = dataclasses.replace(cfg, steps=self.spec.train_steps)
        cfg = self.cfg = with_game_learner_defaults(cfg, self.spec)
        # the game's own where unset; config.json records the numbers
        cfg = self.cfg = dataclasses.replace(cfg, **{
            name: getattr(self.spec, name) for name in GAME_RUN_DEFAULTS
            if getattr(cfg, name) is None})
        self.out = cfg.resolved_out(self.game)
        feats = clip_source_features(source, progress=cfg.progress)
        self.normalizer = FeatureNormalizer.fit(np.concatenate(feats), clip=cfg.feature_clip)
        self.expert = ExpertPairs.from_clips([self.normalizer(f) for f in feats])
        if self.method.uses_expert_actions:  # ORACLES ONLY: the recorded expert actions
            self.expert = self.expert.with_actions(expert_pair_actions(
                [c.path for c in self.folder.clips], [len(f) for f in feats],
                repeat=cfg.action_repeat))
        self.expert_clip = self.normalizer(feats[0])

        probe_env = make_env(self.game, preprocess=self.view, observe_state=self.privileged,
                             **self.env_options)
        n_actions = self.n_actions = int(probe_env.action_space.n)
        probe_env.close()
        self.num_envs = cfg.num_envs or self.spec.num_envs
        self.vectorization = cfg.vectorization or self.spec.vectorization
        self.train_frequency = cfg.train_frequency or self.spec.train_frequency
        if self.num_envs < 1 or self.train_frequency < 1 or cfg.gradient_steps < 1:
            raise ValueError("num_envs, train_frequency and gradient_steps must be >= 1, got "
                             f"{self.num_envs}, {self.train_frequency}, {cfg.gradient_steps}")
        self.device = resolve_device(cfg.device)
        self.encoder.to(self.device)
        dim = int(self.expert.obs.shape[1])
        self.settings = cfg.learner.for_problem(dim, n_actions, cfg.seed)
        self.learner = self.build_learner()
        # an offline learner (oracle-bc) never fills the replay
        capacity = min(cfg.buffer_size, cfg.steps) if self.method.interacts else 1
        self.replay = ReplayBuffer(capacity, dim)
        self.rng = np.random.default_rng(cfg.seed)
        # warm-up play: uniformly random actions held for a geometric number of steps, one
        # generator per env (checkpointed, so a resumed warm-up continues the same draws)
        self.warmup = [EzGreedy(n_actions, 1.0, cfg.explore_mean_hold,
                                seed=_env_seed(cfg.seed, 1, i)) for i in range(self.num_envs)]
        self.ez_greedy = [EzGreedy(n_actions, cfg.explore_epsilon, cfg.explore_mean_hold,
                                   seed=_env_seed(cfg.seed, 2, i)) for i in range(self.num_envs)]
        self.step = 0
        self.updates = 0
        self.episode = 0  # finished training episodes
        self.episode_seeds = EpisodeSeeds(TRAIN_SEED_BASE + 100_000 * cfg.seed)
        self.random_return: float | None = None
        self.last_return = float("nan")
        self.eval_rows: list[dict[str, Any]] = []

    def build_learner(self) -> Learner:
        """A fresh learner of the configured method (fresh batches come from the replay),
        on the run's device."""
        return build_learner(
            self.method.name, self.settings,
            sample_agent=lambda n: self.replay.sample(n, self.rng).to(self.device),
            options=self.cfg.method_options,
        ).to(self.device)

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

    @property
    def best_checkpoint_dir(self) -> Path:
        """The learner at the evaluation whose recent play was closest to the clips'
        states (:mod:`lfo.loop.selection`): chosen without the env's reward."""
        return self.out / "checkpoint_best"

    def save_checkpoint(self) -> None:
        """Write the learner (networks, optimisers, its generator), replay and counters to
        ``checkpoint/`` atomically."""
        write_checkpoint(self.checkpoint_dir, self.learner, {
            "step": self.step, "episode": self.episode, "random_return": self.random_return,
            "updates": self.updates, "episodes_started": self.episode_seeds.started,
            "replay": self.replay.state_dict(), "rng": self.rng.bit_generator.state,
            "method": self.method.name,
            "normalizer": self.normalizer.state(),
            "eval_rows": self.eval_rows, "torch_rng": torch.get_rng_state(),
            "ez_greedy": [e.state_dict() for e in self.ez_greedy],
            "warmup": [w.state_dict() for w in self.warmup],
        })

    def load_checkpoint(self) -> None:
        """Continue from ``checkpoint/`` (or ``checkpoint.old`` if a save was cut short).

        The replay, networks, optimisers, RNGs and counters are restored exactly; the
        env itself cannot be snapshotted, so training resumes at the start of a fresh
        episode (the documented approximation).
        """
        self.learner, state = read_checkpoint(self.checkpoint_dir, self.build_learner)
        if "agent_rng" in state:  # a checkpoint from before the learner interface (IQ only)
            self.learner.agent.rng.bit_generator.state = state["agent_rng"]
        self.replay.load_state_dict(state["replay"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        for key, explorers in (("ez_greedy", self.ez_greedy), ("warmup", self.warmup)):
            saved = state.get(key)  # absent in checkpoints from before it was saved
            saved = [saved] if isinstance(saved, dict) else list(saved or [])  # one env before
            for explorer, explorer_state in zip(explorers, saved, strict=False):
                explorer.load_state_dict(explorer_state)
            for explorer in explorers:
                explorer.end_episode()  # resume starts fresh episodes
        self.normalizer = FeatureNormalizer(*state["normalizer"])
        self.step, self.episode = int(state["step"]), int(state["episode"])
        # the envs' episodes in flight are lost: resume starts new ones after them
        self.episode_seeds.started = int(state.get("episodes_started", self.episode))
        self.updates = int(state.get("updates", max(0, self.step - self.cfg.learning_starts)))
        self.random_return, self.eval_rows = state["random_return"], list(state["eval_rows"])

    # ---- one update -------------------------------------------------------------
    def update(self) -> dict[str, float]:
        """One learner step on a fresh agent batch and a fresh expert batch (for IQ-idm: one
        IDM step on its own schedule and one IQ step)."""
        cfg = self.cfg
        agent_batch = (self.replay.sample(cfg.batch_size, self.rng).to(self.device)
                       if self.method.interacts else None)
        expert_batch = self.expert.sample(cfg.batch_size, self.rng).to(self.device)
        if cfg.learner.lr_end_fraction != 1.0:
            self.learner.scale_learning_rates(self.learning_rate_scale())
        logs = self.learner.update(expert_batch, agent_batch, self.updates)
        self.updates += 1
        if not all(math.isfinite(v) for v in logs.values()):
            bad = {k: v for k, v in logs.items() if not math.isfinite(v)}
            raise TrainingDiverged(
                f"non-finite training values at env step {self.step}: {bad}; the last good "
                f"checkpoint is in {self.checkpoint_dir} (try a lower --lr or a higher chi2_alpha)"
            )
        return logs

    # ---- evaluation -------------------------------------------------------------
    def policy(self, greedy: bool, learner: Learner | None = None) -> EncodedPolicy:
        """The run's learner (or ``learner``) acting on raw observations."""
        return EncodedPolicy(self.encoder, self.normalizer, learner or self.learner, greedy)

    def evaluate(self, episodes: int, record: bool = False,
                 learner: Learner | None = None) -> dict[str, EvalResult]:
        """Greedy and sampled episodes on evaluation seeds 0.. (all side by side)."""
        seeds = list(EVAL_SEEDS[:episodes])
        kw = dict(env_options=self.env_options, max_steps=self.cfg.max_episode_steps,
                  preprocess=self.view, observe_state=self.privileged)
        show = self.cfg.progress
        return {
            "greedy": evaluate(self.game, self.policy(True, learner), seeds, mode="greedy",
                               record_first=record, progress="eval greedy" if show else None,
                               **kw),
            "sampled": evaluate(self.game, self.policy(False, learner), seeds, mode="sampled",
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

    def means_and_scores(self, results: dict[str, EvalResult],
                         prefix: str = "") -> dict[str, float]:
        """``<prefix><mode>_mean`` and ``<prefix><mode>_score`` (normalised) per mode."""
        row: dict[str, float] = {}
        for mode, res in results.items():
            row[f"{prefix}{mode}_mean"] = res.mean
            row[f"{prefix}{mode}_score"] = normalised_score(
                res.mean, self.random_return, self.expert_return)
        return row

    def measure_random(self) -> float:
        """The random policy's mean return in the agent's own world (its env options and
        action repeat), the 0 of the normalised score."""
        seeds = list(EVAL_SEEDS[: self.cfg.random_episodes])
        policy = random_policy(self.n_actions, seed=12345)
        return evaluate(self.game, policy, seeds, max_steps=self.cfg.max_episode_steps,
                        env_options=self.env_options,
                        progress="random-policy floor" if self.cfg.progress else None).mean

    # ---- the loop ---------------------------------------------------------------
    def run(self, resume: bool = False) -> dict[str, Any]:
        """Train for ``cfg.steps`` env steps; return the final summary (also ``final.json``)."""
        if not resume:
            self.claim_run_folder()
        self.out.mkdir(parents=True, exist_ok=True)
        say(f"run folder: {self.out}")
        if resume:
            self.load_checkpoint()
            drop_rows_after(self.out / "metrics.csv", self.step)  # logged after the checkpoint
        else:
            self._write_config()
        if self.random_return is None:
            self.random_return = self.measure_random()
        writer = SummaryWriter(str(self.out / "tb"))
        metrics = CsvLog(self.out / "metrics.csv", append=resume)
        try:
            with sigterm_as_interrupt():
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
        for name in ("checkpoint", "checkpoint.old", "checkpoint.new", "tb",
                     "checkpoint_best", "checkpoint_best.old", "checkpoint_best.new",
                     EVAL_CHECKPOINTS):
            shutil.rmtree(self.out / name, ignore_errors=True)
        for name in ("metrics.csv", "eval.csv", "final.json", "config.json"):
            (self.out / name).unlink(missing_ok=True)

    def _loop(self, writer, metrics: CsvLog) -> None:
        """Act, learn, log, evaluate and checkpoint until ``cfg.steps``."""
        if not self.method.interacts:
            self._offline_loop(writer, metrics)
            return
        cfg, n = self.cfg, self.num_envs
        bar = tqdm(total=cfg.steps, initial=self.step, desc=f"{self.game} {self.method.name}",
                   unit="step", disable=not cfg.progress, smoothing=0.05)
        policy = self.policy(greedy=False)
        envs = self.make_envs()
        try:
            obs, _ = envs.reset(seed=self.episode_seeds.take(n))
            z = policy.features_batch(obs)
            ep_return, ep_len = np.zeros(n), np.zeros(n, dtype=np.int64)
            t0, steps_at_t0, logs = time.time(), self.step, {}
            while self.step < cfg.steps:
                before = self.step
                # -- act: warm-up draws, then the learner on the batch (one call for all envs)
                actions = self._actions(z)
                # -- step the envs; async workers step while the learner updates
                stepping = hasattr(envs, "step_async")
                if stepping:
                    envs.step_async(actions)
                after = min(before + n, cfg.steps)
                for _ in range(self._updates_due(before, after)):
                    logs = self.update()
                if stepping:
                    obs, reward, terminated, truncated, _ = envs.step_wait()
                else:
                    obs, reward, terminated, truncated, _ = envs.step(actions)
                if cfg.max_episode_steps is not None:
                    truncated = truncated | (ep_len + 1 >= cfg.max_episode_steps)
                # -- store: the true final observation of a finished episode, and time-limit
                # truncation is not termination (V(s') is still bootstrapped)
                z_next = policy.features_batch(obs)
                for i in range(after - before):
                    self.replay.add(z[i], int(actions[i]), z_next[i], bool(terminated[i]))
                ep_return += reward
                ep_len += 1
                self.step = after
                bar.update(after - before)
                done = terminated | truncated
                for i in np.flatnonzero(done):
                    self.episode += 1
                    self.ez_greedy[i].end_episode()
                    self.last_return = float(ep_return[i])
                    writer.add_scalar("train/episode_return", ep_return[i], self.step)
                    writer.add_scalar("train/episode_length", ep_len[i], self.step)
                ep_return[done], ep_len[done] = 0.0, 0
                if done.any():
                    obs = reset_finished(envs, obs, done, self.episode_seeds)
                    z_next[done] = policy.features_batch(obs[done])
                z = z_next
                # -- log, evaluate, checkpoint
                if logs and _crossed(before, self.step, cfg.log_every):
                    sps = (self.step - steps_at_t0) / max(time.time() - t0, 1e-9)
                    t0, steps_at_t0 = time.time(), self.step
                    self._log(writer, metrics, logs, sps, bar)
                self._evaluate_and_save(before, writer)
        finally:
            envs.close()
            bar.close()

    def make_envs(self) -> gym.vector.VectorEnv:
        """The run's training envs: ``num_envs`` copies of the agent's world seen through
        the encoder's view, stepped together (automatic reset off)."""
        return make_vector_env(self.game, self.num_envs, vectorization=self.vectorization,
                               preprocess=self.view, observe_state=self.privileged,
                               **self.env_options)

    def _actions(self, z: np.ndarray) -> np.ndarray:
        """One action per env: held random warm-up play before ``learning_starts``, then
        the learner's sampled choice (drawn for the whole batch at most once) inside
        ez-greedy."""
        n = len(z)
        if self.step < self.cfg.learning_starts:
            return np.array([w(lambda: 0) for w in self.warmup[:n]], dtype=np.int64)
        epsilon = self.exploration_epsilon()
        for explorer in self.ez_greedy:
            explorer.epsilon = epsilon
        chosen: list[np.ndarray] = []

        def learner_choice(i: int) -> int:
            if not chosen:
                chosen.append(np.atleast_1d(self.learner.act(z, greedy=False)))
            return int(chosen[0][i])

        return np.array([e(lambda i=i: learner_choice(i)) for i, e in
                         enumerate(self.ez_greedy[:n])], dtype=np.int64)

    def exploration_epsilon(self) -> float:
        """ez-greedy's epsilon at the current step: explore_epsilon, decayed linearly to
        explore_epsilon_final over explore_decay_steps after the warm-up when that is set."""
        cfg = self.cfg
        if cfg.explore_epsilon_final is None:
            return cfg.explore_epsilon
        span = cfg.explore_decay_steps or max(1, cfg.steps - cfg.learning_starts)
        done = self._progress(cfg.learning_starts, span)
        return cfg.explore_epsilon + done * (cfg.explore_epsilon_final - cfg.explore_epsilon)

    def learning_rate_scale(self) -> float:
        """The learning rates' factor now: 1 at the end of warm-up (or the start of an
        offline run), ``lr_end_fraction`` at the end of the budget, linear between."""
        cfg = self.cfg
        start = cfg.learning_starts if self.method.interacts else 0
        done = self._progress(start, max(1, cfg.steps - start))
        return 1.0 + done * (cfg.learner.lr_end_fraction - 1.0)

    def _progress(self, start: int, span: int) -> float:
        """How far the current step is through ``span`` steps from ``start``, in [0, 1]:
        the shared clock of the loop's linear schedules."""
        return min(1.0, max(0, self.step - start) / span)

    def _updates_due(self, before: int, after: int) -> int:
        """Learner updates owed for the agent steps ``before+1 .. after``: ``gradient_steps``
        at every multiple of ``train_frequency`` from ``learning_starts`` on."""
        start = max(before + 1, self.cfg.learning_starts)
        if after < start:
            return 0
        f = self.train_frequency
        calls = after // f - (start - 1) // f
        return calls * self.cfg.gradient_steps

    def _offline_loop(self, writer, metrics: CsvLog) -> None:
        """An offline learner (oracle-bc): no env, one update per step of its budget."""
        cfg = self.cfg
        bar = tqdm(total=cfg.steps, initial=self.step, desc=f"{self.game} {self.method.name}",
                   unit="update", disable=not cfg.progress, smoothing=0.05)
        t0, steps_at_t0 = time.time(), self.step
        while self.step < cfg.steps:
            before = self.step
            logs = self.update()
            self.step += 1
            bar.update(1)
            if _crossed(before, self.step, cfg.log_every):
                sps = (self.step - steps_at_t0) / max(time.time() - t0, 1e-9)
                t0, steps_at_t0 = time.time(), self.step
                self._log(writer, metrics, logs, sps, bar)
            self._evaluate_and_save(before, writer)
        bar.close()

    def _log(self, writer, metrics: CsvLog, logs: dict[str, float], sps: float, bar) -> None:
        row = {"step": self.step, "episode": self.episode, "updates": self.updates,
               "steps_per_s": sps, "last_return": self.last_return, **logs}
        metrics.write(row)
        for key, value in row.items():
            if key != "step":
                writer.add_scalar(f"train/{key}", value, self.step)
        ret = f"{self.last_return:.1f}" if math.isfinite(self.last_return) else "-"
        bar.set_postfix(ret=ret, sps=f"{sps:.0f}")

    def _evaluate_and_save(self, before: int, writer) -> None:
        """Evaluate and checkpoint when the steps ``before+1 .. step`` crossed a multiple of
        their period (or reached the budget)."""
        cfg = self.cfg
        final = self.step >= cfg.steps
        if _crossed(before, self.step, cfg.eval_every) or final:
            row = self.eval_row(self.evaluate(cfg.eval_episodes))
            averaged = self.learner.averaged()
            if averaged is not None:  # the weight average's policy, beside the learner's
                row.update(self.means_and_scores(
                    self.evaluate(cfg.eval_episodes, learner=averaged), prefix="averaged_"))
            if self.method.interacts:  # reward-free: the recent play against the clips
                row["state_match"] = chamfer_distance(
                    self.replay.latest(min(cfg.eval_every, SELECTION_WINDOW)), self.expert.obs,
                    seed=self.cfg.seed)
                if row["state_match"] <= min((r.get("state_match", math.inf)
                                               for r in self.eval_rows), default=math.inf):
                    write_checkpoint(self.best_checkpoint_dir, self.learner,
                                     {"step": self.step, "state_match": row["state_match"]})
            self.eval_rows.append(row)
            if cfg.keep_eval_checkpoints:
                write_checkpoint(self.out / EVAL_CHECKPOINTS / f"step_{self.step:07d}",
                                 self.learner, {"step": self.step})
            for key in ("greedy_mean", "sampled_mean", "greedy_score", "sampled_score"):
                writer.add_scalar(f"eval/{key}", row[key], self.step)
            write_rows(self.out / "eval.csv", self.eval_rows)
            tqdm.write(f"[eval @ {self.step}] greedy {row['greedy_mean']:.1f} "
                       f"sampled {row['sampled_mean']:.1f} "
                       f"(score {row['sampled_score']:.2f})")
        if (_crossed(before, self.step, cfg.checkpoint_every) or final
                or before < cfg.first_checkpoint <= self.step):
            self.save_checkpoint()

    def finish(self) -> dict[str, Any]:
        """Final evaluation, plots, agent video and ``final.json``."""
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
            "selection": self.reward_free_selection(),
            "averaged": self.final_averaged(),
        }
        (self.out / "final.json").write_text(json.dumps(summary, indent=1, default=float))
        return summary

    def final_averaged(self) -> dict[str, Any] | None:
        """The final evaluation of the weight-averaged policy (``--learner.average-decay``),
        or ``None`` without one."""
        averaged = self.learner.averaged()
        if averaged is None:
            return None
        say("evaluating the weight-averaged policy")
        results = self.evaluate(self.cfg.final_eval_episodes, learner=averaged)
        return {"average_decay": self.settings.average_decay,
                **self.means_and_scores(results)}

    def reward_free_selection(self) -> dict[str, Any] | None:
        """The checkpoint chosen without the env's reward (closest recent play to the clips'
        states, :mod:`lfo.loop.selection`), its final evaluation, and how well the criterion
        ranked the run's evaluations (Spearman of -distance against the sampled return)."""
        rows = [r for r in self.eval_rows if "state_match" in r]
        if not rows or not (self.best_checkpoint_dir / "state.pt").is_file():
            return None
        learner, state = read_checkpoint(self.best_checkpoint_dir, self.build_learner)
        say(f"evaluating the reward-free choice: the checkpoint of step {state['step']}")
        results = self.evaluate(self.cfg.final_eval_episodes, learner=learner)
        closeness = [-r["state_match"] for r in rows]
        return {
            "criterion": "Chamfer distance of the recent play's states to the clips' states",
            "checkpoint": str(self.best_checkpoint_dir), "step": int(state["step"]),
            "state_match": float(state["state_match"]),
            **self.means_and_scores(results),
            "spearman_vs_sampled": spearman(closeness, [r["sampled_mean"] for r in rows]),
            "spearman_vs_greedy": spearman(closeness, [r["greedy_mean"] for r in rows]),
        }

    @torch.no_grad()
    def recovered_reward(self, clip_features: np.ndarray) -> np.ndarray | None:
        """The learner's reward r(s, s') along one expert clip (``None`` if it has none).

        IQ: the implicit reward E_a[Q(s, a)] - gamma V(s'), with a from the IDM's
        p(a | s, s') (``idm``) or the policy pi(a | s); GAIfO: the discriminator's logit.
        """
        s = torch.from_numpy(clip_features[:-1]).float().to(self.device)
        s_next = torch.from_numpy(clip_features[1:]).float().to(self.device)
        return self.learner.expert_reward(s, s_next)

    def videos_dir(self) -> str | Path:
        """The folder trained from: ``cfg.videos``, or its copy under ``cfg.video_shift``."""
        if self.cfg.video_shift is None:
            return self.cfg.videos
        return apply_video_shift(self.cfg.videos, self.cfg.video_shift,
                                 progress=self.cfg.progress)

    def _write_config(self) -> None:
        data = dataclasses.asdict(self.cfg)
        data.update(game=self.game, encoder_id=self.encoder.spec.id,
                    resolved_method=self.method.name,
                    shifted_videos=str(self.folder.root) if self.cfg.video_shift else None,
                    clips=[str(c.path) for c in self.folder.clips])
        (self.out / "config.json").write_text(json.dumps(data, indent=1))



def _crossed(before: int, after: int, period: int) -> bool:
    """Whether a multiple of ``period`` lies in ``before+1 .. after``."""
    return after // period > before // period


def _env_seed(run_seed: int, stream: int, env_index: int) -> tuple[int, ...]:
    """The seed of env ``env_index``'s generator for one stream of a run (env 0 keeps the
    single-env loop's seed)."""
    return (run_seed, stream) if env_index == 0 else (run_seed, stream, env_index)


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run (or, with ``cfg.resume``, continue) a training run: the library entry point."""
    return Trainer(cfg).run(resume=cfg.resume)


def with_game_learner_defaults(cfg: TrainConfig, spec: GameSpec) -> TrainConfig:
    """``cfg`` with every learner setting left ``None`` set to the game's default (or to
    ``UNSET_LEARNER_DEFAULTS`` where the game has none); config.json then records it."""
    filled = {}
    for name in UNSET_LEARNER_DEFAULTS:
        if getattr(cfg.learner, name) is None:
            filled[name] = spec.learner_defaults.get(name, UNSET_LEARNER_DEFAULTS[name])
    unknown = set(spec.learner_defaults) - {f.name for f in dataclasses.fields(cfg.learner)}
    if unknown:
        raise ValueError(f"{spec.name}: learner_defaults names unknown settings {sorted(unknown)}")
    return dataclasses.replace(cfg, learner=dataclasses.replace(cfg.learner, **filled))

