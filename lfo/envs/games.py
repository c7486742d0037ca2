"""Game environments: gymnasium makers that see the game through the shared Preprocess.

``make_env("carracing" | "pong" | "breakout", seed=..., **options)`` returns an env whose
observations are stacked, preprocessed uint8 frames ``(stack * c, h, w)``: exactly what
``Preprocess.clip`` makes of a decoded video of the same game. ``make_raw_env`` gives
the same game with native RGB observations (for scripted experts and the recorder).

``options`` are passed to ``gymnasium.make`` and are the hook for distribution-shift
settings: ``domain_randomize`` and ``lap_complete_percent`` for CarRacing,
``repeat_action_probability`` (sticky actions), ``mode`` and ``difficulty`` for Atari.
One option is ours and valid for every game: ``action_repeat=k`` holds each agent action
for k env steps (gymnasium's ``RepeatAction``), so the agent decides at
``control_hz / k``; videos are then decoded at that rate too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from einops import rearrange
from gymnasium.wrappers import (
    FrameStackObservation,
    RepeatAction,
    TimeLimit,
    TransformObservation,
)

from lfo.data.preprocess import Preprocess
from lfo.envs.fast_render import use_fast_road_renderer
from lfo.envs.privileged import PrivilegedState, StateObservation

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


#: the env option, valid for every game, that holds each action for k env steps
ACTION_REPEAT = "action_repeat"

#: a value of an env or method option set on the command line (--env-options NAME VALUE)
OptionValue = int | float | bool | str


def env_options_with_repeat(options: dict[str, Any] | None, action_repeat: int) -> dict[str, Any]:
    """``options`` with ``action_repeat`` added when it is above 1."""
    options = dict(options or {})
    if action_repeat != 1:
        options[ACTION_REPEAT] = action_repeat
    return options


@dataclass(frozen=True)
class GameSpec:
    """What the library needs to know about one game.

    Attributes:
        name: short name used on the command line.
        env_id: gymnasium id.
        kwargs: fixed ``gymnasium.make`` kwargs (the agent's default world).
        options: the ``gymnasium.make`` kwargs a user may change (shift settings).
        native_size: ``(height, width)`` of the env's RGB observation; videos are
            decoded at this size so one Preprocess serves both sources.
        base_hz: the emulator/physics rate; the control rate is
            ``base_hz / frameskip / action_repeat``.
        preprocess: the default view of the game.
        train_steps: a training run's default budget (agent steps) on this game: what
            the learner needs here to get near the expert (``notes/``), or the
            library's 60,000 where that is not measured yet.
        max_episode_steps: the game's episode cap in agent steps for training,
            evaluation and the random floor alike (``None``: the env's own limit).
        no_reward_timeout: end an episode (as a truncation) after this many agent steps
            without a non-zero reward (``None``: never); a policy that never serves must
            not stall a run.
        num_envs, vectorization, train_frequency: the training loop's defaults on this
            game (envs stepped together, ``"sync"`` or ``"async"``, agent steps per
            learner update), each chosen by measurement (``notes/loop_speed.md``).
        feature_clip: normalised features are clipped to [-c, c] (0: not clipped);
            ``--feature-clip`` left unset takes it.
        explore_mean_hold, explore_epsilon: the run's exploration (warm-up holds, then
            ez-greedy; :class:`lfo.loop.config.RunSettings`) where the command line leaves
            it unset.
        learner_defaults: values of :class:`lfo.algorithms.learner.LearnerSettings`
            fields left ``None`` on the command line, each chosen by measurement
            (``notes/learner_stability.md``).
    """

    name: str
    env_id: str
    kwargs: dict[str, Any]
    options: tuple[str, ...]
    native_size: tuple[int, int]
    base_hz: float
    preprocess: Preprocess
    train_steps: int = 60_000
    max_episode_steps: int | None = None
    no_reward_timeout: int | None = None
    num_envs: int = 1
    vectorization: str = "sync"
    train_frequency: int = 1
    feature_clip: float = 0.0
    explore_mean_hold: float = 1.0
    explore_epsilon: float = 0.0
    learner_defaults: dict[str, Any] = field(default_factory=dict)
    notes: str = field(default="", compare=False)

    def control_hz(self, options: dict[str, Any] | None = None) -> float:
        """Agent decisions per second (the rate video frames are resampled to)."""
        merged = {**self.kwargs, **(options or {})}
        repeat = float(merged.get(ACTION_REPEAT, 1))
        return self.base_hz / float(merged.get("frameskip", 1)) / repeat


# CarRacing: the bottom 12 rows of the 96x96 frame are a HUD. From the left: the true
# speed bar (columns 12-14), the four ABS bars (each wheel's spin, from column 16.8),
# the steering bar (the front wheel's joint angle, from 48) and the gyro (the hull's
# angular velocity, from 72). All four are physical state displays drawn from the
# simulator's car state (gymnasium's car_racing.py), not the keys pressed: the steering
# bar follows the wheel's angle, which moves at most ~0.06 rad per step and springs back
# on release. They stay in view: they are in every real gameplay video of this game and
# they are what an inverse dynamics model needs (notes/state_encoder.md). The box
# below masks them, for the "nohud" shift view (videos that crop the HUD exist). Colour
# is dropped: grass and road differ in luminance, and grey halves the encoder's input.
CARRACING_HUD_STATE_BARS = (84, 96, 16, 96)
CARRACING = GameSpec(
    name="carracing",
    env_id="CarRacing-v3",
    kwargs={"continuous": False},
    options=("domain_randomize", "lap_complete_percent"),
    native_size=(96, 96),
    base_hz=50.0,
    preprocess=Preprocess(
        crop=None, mask=(), size=(84, 84), grayscale=True, stack=3,
    ),
    notes="actions: 0 noop, 1 steer right, 2 steer left, 3 gas, 4 brake",
    # the loop: 4 envs in worker processes, one update per 2 agent steps: the env is the
    # cost here, and the workers step while the learner updates (253 agent steps/s against
    # 143 for the same 4 envs in one process, 0.89 of the raw env; notes/loop_speed.md)
    num_envs=4,
    vectorization="async",
    train_frequency=2,
    # the learning rates fall linearly to a tenth by the end of the run: on seeds 2-4 the
    # finals went from 0.65-0.74 greedy to 0.85-0.90 (constant rates sag from 40k on;
    # notes/learner_stability.md, results/carracing_lr_decay_2026-12-05.md). No terminal
    # is absorbing here (a finished lap is terminal too, and the clips carry none).
    learner_defaults={"lr_end_fraction": 0.1},
    # after the warm-up, with probability 0.05 at a decision a random action held ~5 steps
    # (ez-greedy; the warm-up's random actions are held ~5 steps too). Five seeds replayed
    # on ten evaluation tracks: the worst last learner 0.85 / 0.84 (greedy / sampled)
    # against 0.80 / 0.81 without, the means equal (0.87 / 0.88 and 0.86 / 0.88), and
    # the learner plays from ~10k steps on (notes/learner_stability.md,
    # results/carracing_eps05_*_10tracks_2026-12-06.md)
    explore_mean_hold=5.0,
    explore_epsilon=0.05,
)

#: RunSettings fields that a run leaving them unset (None) takes from its GameSpec
GAME_RUN_DEFAULTS = ("feature_clip", "explore_mean_hold", "explore_epsilon")

# Atari: the standard 84x84 grey, 4-frame stack view (Mnih et al. 2015). The score
# digits stay in view; they carry no action information.
_ATARI_OPTIONS = ("repeat_action_probability", "mode", "difficulty", "frameskip")


def _atari_game(name: str, env_id: str, train_steps: int = 60_000,
                learner_defaults: dict[str, Any] | None = None, feature_clip: float = 0.0,
                **caps: int) -> GameSpec:
    """An ALE game as the clips were recorded: frameskip 4, sticky actions 0.25.
    ``learner_defaults`` are added to the Atari games' shared one (the absorbing terminal)."""
    return GameSpec(
        name=name,
        env_id=env_id,
        train_steps=train_steps,
        feature_clip=feature_clip,
        **caps,
        kwargs={"frameskip": 4, "repeat_action_probability": 0.25},
        # the loop: 8 envs in this process, one update per 4 agent steps as in the DQN
        # family's Atari agents (notes/loop_speed.md)
        num_envs=8,
        vectorization="sync",
        train_frequency=4,
        # terminals (a lost game) enter a learned absorbing state: with V(terminal) = 0,
        # losing was the agent's best move (notes/learner_stability.md)
        learner_defaults={"absorbing": True, **(learner_defaults or {})},
        options=_ATARI_OPTIONS,
        native_size=(210, 160),
        base_hz=60.0,
        preprocess=Preprocess(crop=None, size=(84, 84), grayscale=True, stack=4),
    )


# Pong: iq-idm on the RAM state scores 0.13 / 0.18 (greedy / sampled, 3 seeds) at 60k agent
# steps and 0.40-0.65 from 80k to 150k (1 seed); the learner was still far from the expert
# at 60k (notes/atari_ladder.md, 2026-12-03, commit 7b6dfcc). On the fast loop it is
# 0.35 / 0.27 (greedy / sampled) at 150k, 0.75 / 0.69 at 500k over 3 seeds, and 0.78 / 0.83
# and 0.77 / 0.80 at 1M (2 seeds; notes/learner_stability.md, 2026-12-04): the learner
# needs the steps, so Pong's default is 500k (~13 minutes on rung 1 here).
PONG = _atari_game("pong", "ALE/Pong-v5", train_steps=500_000)
# Breakout: iq-idm on the RAM state scores 0.13 / 0.09 at 60k (3 seeds); continued to 150k,
# seed 0 reaches 0.45 / 0.19, seed 1 0.04 / 0.06 (notes/atari_ladder.md, 2026-12-03,
# commit a8623d6): noisy, but nothing reached more than 0.22 at 60k. With the absorbing
# terminal, oracle-iq at 300k plays 0.26 in training over 3 seeds and iq-idm 0.32 on seed 0
# (notes/learner_stability.md, 2026-12-05): the budget those were measured at.
# Episodes are capped at 6,000 agent steps (the cap under which the expert's 593.7 and
# every Breakout row in notes/atari_ladder.md were measured) and end after 1,000 agent
# steps without a point: an agent that never serves (FIRE) otherwise plays towards the
# ALE's 27,000-step limit, and one evaluation took most of a run's wall time. The scripted
# expert's longest stretch without a point is 297 and 343 agent steps (seeds 10000, 10001).
#
# Rung 1 (oracle-iq, 300k, 2026-12-06; notes/learner_stability.md): normalised by the
# clips' std, the "no ball in play" flag sits at -27 (51 of 44,397 expert pairs have no
# ball), and the greedy agent scored 0 (never served) in 8 of 24 evaluations and 3 of 4
# finals; clipped at 5, in 5 of 36 and none of 3 finals, and with the learning rates
# falling to a tenth as well in 2 of 24 and none of 2, where the sampled finals were 0.20
# and 0.40 against 0.00 and 0.18 (seeds 0, 1).
BREAKOUT = _atari_game("breakout", "ALE/Breakout-v5", train_steps=300_000,
                       learner_defaults={"lr_end_fraction": 0.1}, feature_clip=5.0,
                       max_episode_steps=6_000, no_reward_timeout=1_000)

GAMES: dict[str, GameSpec] = {spec.name: spec for spec in (CARRACING, PONG, BREAKOUT)}
_ENV_ID_TO_GAME = {spec.env_id: spec.name for spec in GAMES.values()}


def get_game(name: str) -> GameSpec:
    """Look a game up by short name or gymnasium id (``"pong"`` or ``"ALE/Pong-v5"``)."""
    key = _ENV_ID_TO_GAME.get(name, name.lower())
    if key not in GAMES:
        raise ValueError(f"unknown game {name!r}; known games: {', '.join(sorted(GAMES))}")
    return GAMES[key]


def make_raw_env(
    game: str, *, seed: int | None = None, render_mode: str | None = None,
    privileged_state: bool = False, **options: Any
) -> gym.Env:
    """The game with native RGB observations (no preprocessing).

    If ``seed`` is given the env is reset once with it, so the following ``reset()``
    calls continue a reproducible sequence; the action space is seeded too.
    ``privileged_state``: PRIVILEGED: add :class:`lfo.privileged.PrivilegedState` (the
    simulator's state in ``info``) beneath the action repeat, so that a state's
    step-to-step differences span one env step whatever the repeat, as in the states of
    a replayed clip.
    """
    spec = get_game(game)
    unknown = sorted(set(options) - set(spec.options) - {ACTION_REPEAT})
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for {spec.name}; allowed: "
            f"{', '.join((*spec.options, ACTION_REPEAT))}"
        )
    gym_options = {k: v for k, v in options.items() if k != ACTION_REPEAT}
    repeat = options.get(ACTION_REPEAT, 1)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
        raise ValueError(f"{ACTION_REPEAT} must be an integer >= 1, got {repeat!r}")
    if spec.env_id.startswith("ALE/"):
        import ale_py

        gym.register_envs(ale_py)
    env = gym.make(spec.env_id, render_mode=render_mode, **{**spec.kwargs, **gym_options})
    if spec.name == "carracing":
        use_fast_road_renderer(env)  # same pixels, ~1.8x faster steps (lfo.envs.fast_render)
    if privileged_state:
        env = PrivilegedState(env, spec.name)
    if repeat > 1:
        env = RepeatAction(env, repeat)
    env.metadata = {**env.metadata, "control_hz": spec.control_hz(options), "game": spec.name}
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


class RawFrameInfo(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Expose the native RGB observation as ``info["frame"]`` (for videos of the agent)."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return obs, {**info, "frame": obs}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, "frame": obs}


class NoRewardTimeout(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Truncate an episode after ``steps`` consecutive steps without a non-zero reward.

    A time limit on stalling, not on playing: a Breakout agent that never serves earns
    nothing and would otherwise run to the ALE's 27,000-step limit. The episode ends as
    truncated (not terminated), so a learner still bootstraps its last state.
    """

    def __init__(self, env: gym.Env, steps: int) -> None:
        if steps < 1:
            raise ValueError(f"no_reward_timeout must be >= 1, got {steps}")
        gym.utils.RecordConstructorArgs.__init__(self, steps=steps)
        gym.Wrapper.__init__(self, env)
        self.steps, self._quiet = steps, 0

    def reset(self, **kwargs):
        self._quiet = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._quiet = 0 if reward != 0 else self._quiet + 1
        if self._quiet >= self.steps and not terminated:
            truncated = True
            info = {**info, "no_reward_timeout": True}
        return obs, reward, terminated, truncated, info


def wrap_preprocess(env: gym.Env, preprocess: Preprocess) -> gym.Env:
    """Apply ``preprocess`` per frame, then stack ``preprocess.stack`` frames on channels.

    The native frame stays available as ``info["frame"]``.
    """
    env = RawFrameInfo(env)
    frame_space = gym.spaces.Box(0, 255, (preprocess.channels, *preprocess.size), np.uint8)
    env = TransformObservation(env, preprocess.frame, frame_space)
    # At reset the first frame is repeated, as Preprocess.stack_frames does for a clip.
    env = FrameStackObservation(env, preprocess.stack, padding_type="reset")
    stacked_space = gym.spaces.Box(0, 255, preprocess.stacked_shape, np.uint8)
    return TransformObservation(
        env, lambda obs: rearrange(np.asarray(obs), "k c h w -> (k c) h w"), stacked_space
    )


def make_env(
    game: str,
    *,
    seed: int | None = None,
    preprocess: Preprocess | None = None,
    render_mode: str | None = None,
    observe_state: bool = False,
    **options: Any,
) -> gym.Env:
    """The game as the learner sees it: stacked preprocessed frames ``(k * c, h, w)``.

    Args:
        game: ``"carracing"``, ``"pong"`` or ``"breakout"`` (or the gymnasium id).
        seed: reset once with this seed (see :func:`make_raw_env`).
        preprocess: override the game's default view; must match the videos' view.
        render_mode: passed to gymnasium (``"rgb_array"`` to record the agent).
        observe_state: PRIVILEGED: observe the simulator's state vector
            (:class:`lfo.envs.privileged.StateObservation`) instead of frames: the
            ideal-encoder rung, never the learning-from-video path.
        **options: shift settings (see the module docstring).

    The game's caps (:attr:`GameSpec.max_episode_steps`, :attr:`GameSpec.no_reward_timeout`)
    end episodes as truncations, in training, evaluation and the random floor alike.
    """
    spec = get_game(game)
    env = make_raw_env(spec.name, render_mode=render_mode, privileged_state=observe_state,
                       **options)
    if observe_state:
        env = StateObservation(env, spec.name)
    else:
        env = wrap_preprocess(env, preprocess or spec.preprocess)
    # the game's own caps, in agent steps (outside the action repeat)
    if spec.no_reward_timeout is not None:
        env = NoRewardTimeout(env, spec.no_reward_timeout)
    if spec.max_episode_steps is not None:
        env = TimeLimit(env, spec.max_episode_steps)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env
