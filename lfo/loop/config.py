"""The settings of a training run: one nested dataclass, saved as ``config.json``.

Every field is a command-line flag of ``scripts/train_lfo.py`` (``--steps``,
``--learner.lr``, ``--env-options repeat_action_probability 0.0`` ...). ``RunSettings``
holds what is not a run's identity (videos, game, method, seed, budget, folder), so that
``scripts/benchmark.py`` sets them once for all its runs (``--run.learner.lr``). The learner's own
hyper-parameters live in :class:`lfo.algorithms.learner.LearnerSettings` (``learner``),
declared once and passed down to the methods.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from encoders.registry import EncoderError, resolve_recorded
from lfo.algorithms.learner import LearnerSettings
from lfo.envs.games import OptionValue, env_options_with_repeat

#: training episodes use seeds far from the evaluation (0-9999) and demo (10000+) ranges
TRAIN_SEED_BASE = 1_000_000

#: fields of configs saved before the learner's settings were nested under ``learner``
_FLAT_LEARNER_FIELDS = ("hidden", "alpha", "gamma", "chi2_alpha", "lr", "tau", "grad_clip",
                        "double_q", "grad_penalty", "idm_lr", "idm_update_every")
#: learner settings added later, with the value every run saved before them ran with (a
#: saved config.json without one must resume as it ran, not take today's game default)
_LATER_LEARNER_FIELDS = {"absorbing": False, "lr_end_fraction": 1.0, "idm_label_shift": False}
#: the same for run settings
_LATER_RUN_FIELDS = {"feature_clip": 0.0, "explore_mean_hold": 1.0, "explore_epsilon": 0.0}


@dataclass
class RunSettings:
    """The settings of a run that are not its identity (videos, game, method, seed, budget,
    folder): TrainConfig adds those, and a benchmark sets these once for all its runs
    (--run.learner.lr, --run.learning-starts ...)."""

    method_options: dict[str, OptionValue] = field(default_factory=dict)
    """Options of the method's own config, as name value pairs (e.g. gp_weight 1.0 for gaifo)."""
    encoder: str | None = None
    """Encoder registry name or checkpoint path; default: the game's default encoder."""
    learner: LearnerSettings = field(default_factory=LearnerSettings)
    """The learner's hyper-parameters (network sizes, temperature, discount, learning
    rates...), shared by every method."""
    batch_size: int = 128
    """Expert pairs and agent transitions per update (each)."""
    learning_starts: int = 2_000
    """Uniformly random env steps before the first update."""
    buffer_size: int = 200_000
    """Replay capacity (transitions)."""
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
    keep_eval_checkpoints: bool = False
    """Also keep the learner as it was at each evaluation (checkpoints/step_N, ~2 MB each
    on CarRacing), to evaluate them again on more episodes later (python -m
    experiments.evaluate_checkpoints)."""
    max_episode_steps: int | None = None
    """Cap on training/eval episode length (None: the env's own)."""
    log_every: int = 250
    """Env steps between logged training diagnostics."""
    env_options: dict[str, OptionValue] = field(default_factory=dict)
    """Shift settings for the agent's env (see lfo.envs.games)."""
    explore_mean_hold: float | None = None
    """Warm-up exploration (the first learning_starts steps): uniformly random actions,
    each held for a geometric number of agent steps with this mean (1 = a new one each
    step). The IDM learns from this play first. None: the game's default (lfo.envs.games;
    1 on Atari, 5 on CarRacing)."""
    explore_epsilon: float | None = None
    """After warm-up, ez-greedy: at each agent decision outside a random hold, start a
    uniformly random action held for a geometric number of steps (mean
    explore_mean_hold) with this probability (0 = the learner's own play only). None: the
    game's default (0 on Atari, 0.05 on CarRacing)."""
    explore_epsilon_final: float | None = None
    """If set, explore_epsilon decays linearly to this value over explore_decay_steps agent
    steps after the warm-up (IQ-Learn's and DQN's decaying epsilon-greedy with
    explore_mean_hold 1); None keeps explore_epsilon for the whole run."""
    explore_decay_steps: int | None = None
    """Agent steps of the decay (None: the rest of the budget)."""
    action_repeat: int = 1
    """Hold each agent action for this many env steps; the clips are then decoded at the
    same lower rate, so an expert pair spans the same time as one agent step."""
    video_shift: str | None = None
    """Train from a shifted copy of the videos (fps25, up2x, mixed-skill...; see
    lfo.shifts.registry), built once under .cache/shifted/."""
    max_clips: int | None = None
    """Learn from the first N clips of the folder only (in path order; IQ-Learn's number of
    demonstrations). None: every clip. Scores stay normalised by the whole folder's expert
    return, so runs with different N compare."""
    feature_clip: float | None = None
    """Clip the normalised features (the clips' mean and std) to [-c, c] before the learner
    sees them; 0: no clip. None: the game's default (lfo.envs.games)."""
    first_checkpoint: int = 1_000
    """Env steps before the first checkpoint (then every checkpoint_every), so a run
    killed in its first minutes can still be resumed."""
    num_envs: int | None = None
    """Envs stepped together (a gymnasium vector env; the encoder reads their frames in
    one batch). None: the game's default (lfo.envs.games)."""
    vectorization: Literal["sync", "async"] | None = None
    """sync: the envs step in this process; async: one worker process per env, stepping
    while the learner updates. None: the game's default."""
    train_frequency: int | None = None
    """Agent steps (counted over all envs) between training calls, as in SB3's train_freq
    and CleanRL's train_frequency. None: the game's default."""
    gradient_steps: int = 1
    """Learner updates per training call: the update ratio is gradient_steps /
    train_frequency updates per agent step (the IDM's schedule counts these updates)."""
    device: str = "auto"
    """Where networks, batches and the encoder's inference run: auto (CUDA when
    present), cpu, cuda or cuda:N."""


@dataclass(kw_only=True)
class TrainConfig(RunSettings):
    """Everything that defines a training run (saved as config.json in the run folder)."""

    videos: str
    """Folder of expert clips (searched recursively); no action labels are used."""
    env: str | None = None
    """Game; default: the one the clips' sidecars name, else the one their pictures show
    (checked against the pictures either way)."""
    variant: Literal["idm", "state-only"] = "idm"
    """idm (expert pairs labelled by an inverse dynamics model) or state-only."""
    method: str | None = None
    """Learner (lfo.algorithms.methods): iq-idm, iq-state-only, bco, gaifo,
    oracle-iq, oracle-bc (oracles use the recorded expert actions). Default:
    iq-<variant>."""
    steps: int | None = None
    """Agent steps of interaction (offline oracles: updates). Default: the game's budget
    (lfo.envs.games: 60,000 on CarRacing, 500,000 on Pong, 300,000 on Breakout)."""
    out: str | None = None
    """Run folder; default runs/<game>-<variant>[-<video_shift>]-s<seed>."""
    seed: int = 0
    """Seeds networks, sampling and the training episodes' env seeds."""
    progress: bool = True
    """Show a tqdm progress bar."""
    resume: bool = False
    """Continue the run in out from its last checkpoint (its config.json wins)."""
    force: bool = False
    """Start afresh in an out that already holds a run (its files are replaced)."""

    def agent_env_options(self) -> dict[str, Any]:
        """The env options of the agent's world: env_options plus the action repeat."""
        return env_options_with_repeat(self.env_options, self.action_repeat)

    @property
    def resolved_method(self) -> str:
        """The learner's registry name: method, or iq-<variant> when unset."""
        return self.method or f"iq-{self.variant}"

    def resolved_out(self, game: str) -> Path:
        shift = f"-{self.video_shift}" if self.video_shift else ""
        name = self.method or self.variant
        return Path(self.out or f"runs/{game}-{name}{shift}-s{self.seed}")


def config_from_dict(data: dict[str, Any], **overrides: Any) -> TrainConfig:
    """A :class:`TrainConfig` from a saved ``config.json`` or a dict of settings.

    Learner settings may be nested (``{"learner": {"lr": ...}}``) or flat (``{"lr": ...}``,
    as configs saved before the nesting). Keys that are not settings (those the trainer adds
    to ``config.json``) are ignored.
    """
    data = dict(data)
    learner = dict(data.get("learner") or {})
    for name in _FLAT_LEARNER_FIELDS:
        if name in data:
            learner.setdefault(name, data.pop(name))
    if "game" in data:  # a config.json the trainer saved (it adds the game)
        for name, value in _LATER_LEARNER_FIELDS.items():
            learner.setdefault(name, value)
        for name, value in _LATER_RUN_FIELDS.items():
            data.setdefault(name, value)
    known = {f.name for f in dataclasses.fields(LearnerSettings)}
    learner = {k: tuple(v) if isinstance(v, list) else v
               for k, v in learner.items() if k in known}
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    fields = {k: v for k, v in data.items() if k in names and k != "learner"}
    return TrainConfig(**{**fields, "learner": LearnerSettings(**learner), **overrides})


def load_run_config(out: str | Path, **overrides: Any) -> TrainConfig:
    """The config saved in a run folder, with ``overrides`` (e.g. a larger ``steps``)."""
    path = Path(out) / "config.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"cannot resume: {path} is missing or unreadable ({exc})") from exc
    if data.get("encoder") and data.get("encoder_id") and "encoder" not in overrides:
        # a game's default may have moved on to new weights: resume on the run's own
        try:
            data["encoder"] = resolve_recorded(data["encoder"], data["encoder_id"])
        except EncoderError as exc:
            raise RuntimeError(f"cannot resume {out}: {exc}") from exc
    return config_from_dict(data, **{**overrides, "out": str(out), "resume": True})
