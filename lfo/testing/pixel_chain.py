"""A chain MDP seen through pixels: a seconds-long test bed for distribution shifts.

The world is :class:`lfo.testing.chain.ChainMDP` (walk right from state 0 to the goal n-1),
here with an absorbing goal, so an episode always runs to its time limit, as a
video ends without saying why. Each state is *rendered* as a small RGB frame (a blurred
bright dot on a dark strip at x proportional to s) and seen through the same steps as the
real pipeline, scaled down:

* the expert's episodes become "videos" (one frame per step at :attr:`PixelChain.fps`),
  optionally passed through a video shift of :mod:`lfo.shifts.registry` (the same functions the
  real clips go through);
* "decoding" resizes every frame to the native size and re-times the clip to the control
  rate with :func:`lfo.data.video.resample_indices`, exactly as
  :func:`lfo.data.video.iter_frame_chunks`
  does;
* features are area-downsampled grey pixels standardised with the expert clips' mean and
  std (:class:`lfo.loop.trainer.FeatureNormalizer`, as the trainer does), then expert pairs
  ``(z_t, z_t+1)`` (:class:`lfo.data.transitions.ExpertPairs`) and online IQ-Learn with an inverse
  dynamics model (:class:`lfo.algorithms.agent.SoftQAgent`,
  :class:`lfo.algorithms.idm.InverseDynamicsModel`)
  on the agent's own clean rendered frames.

What a frame-rate shift means here: a 25 fps clip of the 50 Hz chain keeps every other
state (0, 2, 4, ...); decoding it back at 50 Hz repeats each frame, so the expert pairs
become (s, s) and (s, s+2) in turn: half look like the expert *stood still*, half like it
*jumped two states*, a move the agent itself can never make and the IDM never saw.
Odd states never appear as expert states. A 60 fps clip decoded back at 50 Hz judders:
both resamplings take the frame on screen at or before each time, so one decoded frame
in five repeats its predecessor and one state in five is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from lfo.algorithms.agent import SoftQAgent, SoftQConfig
from lfo.algorithms.iq_learner import IQLearner
from lfo.algorithms.learner import LearnerSettings
from lfo.data.transitions import ExpertPairs, Transitions
from lfo.data.video import resample_indices
from lfo.loop.policy import FeatureNormalizer
from lfo.shifts.registry import Clip, clip_rng, shift_clip
from lfo.testing.chain import RIGHT, ChainMDP, ChainRunConfig, train_learner_on_chain


@dataclass(frozen=True)
class PixelChain:
    """A chain rendered as ``height x width`` RGB frames, seen as ``feature_size`` grey pixels."""

    n: int = 8
    """Number of states."""
    horizon: int = 20
    """Steps per episode (the goal is absorbing: episodes always run this long)."""
    height: int = 8
    width: int = 32
    blob_sigma: float = 1.5
    """Width (pixels, std) of the Gaussian dot that marks the state."""
    background: tuple[int, int, int] = (40, 70, 40)
    blob: tuple[int, int, int] = (230, 220, 90)
    feature_size: tuple[int, int] = (2, 16)
    """``(h, w)`` of the area-downsampled grey features."""
    fps: float = 50.0
    """The control rate: expert videos are recorded at one frame per step at this rate."""

    def mdp(self, slip: float = 0.0) -> ChainMDP:
        """The underlying chain (``slip``: probability an action is replaced by a random one)."""
        return ChainMDP(n=self.n, horizon=self.horizon, slip=slip, terminal_goal=False)

    def render(self, states: np.ndarray) -> np.ndarray:
        """Frames ``(T, height, width, 3)`` uint8 of a sequence of states."""
        x = np.arange(self.width) + 0.5
        centres = (np.asarray(states, dtype=np.float64)[:, None] + 0.5) * self.width / self.n
        weight = np.exp(-0.5 * ((x[None, :] - centres) / self.blob_sigma) ** 2)  # (T, W)
        bg, fg = np.array(self.background, float), np.array(self.blob, float)
        rows = bg + weight[..., None] * (fg - bg)  # (T, W, 3)
        frames = np.repeat(rows[:, None], self.height, axis=1)
        frames[:, : self.height // 4] = bg  # a dark border above and below the dot
        frames[:, self.height - self.height // 4 :] = bg
        return frames.round().astype(np.uint8)

    def decode(self, clip: Clip) -> np.ndarray:
        """What the pipeline makes of a clip: native size, re-timed to the control rate."""
        frames = clip.frames[resample_indices(len(clip.frames), clip.fps, self.fps)]
        if frames.shape[1:3] != (self.height, self.width):
            frames = np.stack([cv2.resize(f, (self.width, self.height),
                                          interpolation=cv2.INTER_AREA) for f in frames])
        return frames

    def features(self, frames: np.ndarray) -> np.ndarray:
        """Grey, area-downsampled pixels in [0, 1]: float32 ``(T, h * w)``."""
        h, w = self.feature_size
        grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
        small = [cv2.resize(g, (w, h), interpolation=cv2.INTER_AREA) for g in grey]
        return (np.stack(small).reshape(len(frames), -1) / 255.0).astype(np.float32)


def expert_clips(world: PixelChain, episodes: int) -> list[Clip]:
    """The expert's episodes (always right, no slips) as clips: ``horizon + 1`` frames each."""
    states = np.minimum(np.arange(world.horizon + 1), world.n - 1)
    return [Clip(world.render(states), world.fps) for _ in range(episodes)]


@dataclass
class ToyRunConfig:
    """One training run on the pixel chain."""

    video_shift: str | None = None
    """Video shift applied to the expert clips (a :data:`lfo.shifts.registry.VIDEO_SHIFTS` name)."""
    env_steps: int = 1000
    """Online interaction steps (one update per step after warm-up)."""
    warmup: int = 50
    batch_size: int = 32
    expert_episodes: int = 4
    seed: int = 0
    agent: SoftQConfig = field(default_factory=lambda: SoftQConfig(
        obs_dim=0, n_actions=3, hidden=(64,), variant="idm", alpha=0.1, gamma=0.9, lr=3e-3,
        tau=0.1,
    ))
    """Agent settings (``obs_dim`` and ``seed`` are filled in). A linear Q on these pixels
    learnt on 2/5 seeds, one hidden layer of 64 on 5/5 (clean videos, 1000 steps)."""


@dataclass
class ToyAgent:
    """A trained agent and how it sees the clean world."""

    world: PixelChain
    agent: SoftQAgent
    state_features: np.ndarray
    """Normalised features of each state's clean render: ``(n, D)``."""
    metrics: dict[str, float]

    def policy(self, greedy: bool):
        return lambda s: self.agent.act(self.state_features[s], greedy=greedy)


def expert_features(world: PixelChain, run: ToyRunConfig) -> list[np.ndarray]:
    """Raw features of the (possibly shifted) expert videos, one array per clip."""
    feats = []
    for i, clip in enumerate(expert_clips(world, run.expert_episodes)):
        if run.video_shift is not None:
            clip = shift_clip(clip, run.video_shift, clip_rng(f"toy/{run.seed}/{i}"))
        feats.append(world.features(world.decode(clip)))
    return feats


def train_toy(world: PixelChain, run: ToyRunConfig) -> ToyAgent:
    """Online IDM IQ-Learn on the pixel chain from (shifted) expert videos; clean env.

    The learner is the library's :class:`~lfo.algorithms.iq_learner.IQLearner` (an IDM
    step on the agent's batch, soft labels on the expert pairs, one IQ step) driven by the
    chain's own loop, :func:`lfo.testing.chain.train_learner_on_chain`."""
    torch.manual_seed(run.seed)
    raw = expert_features(world, run)
    normalizer = FeatureNormalizer.fit(np.concatenate(raw))
    pairs = ExpertPairs.from_clips([normalizer(f) for f in raw])
    expert = Transitions(torch.from_numpy(pairs.obs), torch.from_numpy(pairs.next_obs),
                         torch.zeros(len(pairs)))
    table = normalizer(world.features(world.render(np.arange(world.n))))
    dim = table.shape[1]
    agent_config = SoftQConfig(**{**vars(run.agent), "obs_dim": dim, "seed": run.seed})
    settings = LearnerSettings(idm_hidden=(32,), idm_lr=1e-2, idm_update_every=1,
                               idm_soft=True).for_problem(dim, agent_config.n_actions, run.seed)
    learner = IQLearner(settings, "idm", agent_config=agent_config)
    chain_run = ChainRunConfig(env_steps=run.env_steps, warmup=run.warmup,
                               batch_size=run.batch_size, seed=run.seed)
    metrics = train_learner_on_chain(world.mdp(), learner, chain_run, state_features=table,
                                     expert=expert)
    return ToyAgent(world, learner.agent, table, metrics)


def mean_return(world: PixelChain, policy, *, slip: float = 0.0, episodes: int = 50,
                seed: int = 0) -> float:
    """Mean return (-1 per step away from the goal) of ``policy(state)`` in the chain."""
    mdp, rng = world.mdp(slip), np.random.default_rng(seed)
    return float(np.mean([mdp.rollout(policy, rng)[1] for _ in range(episodes)]))


def reference_returns(world: PixelChain, episodes: int = 200) -> tuple[float, float]:
    """``(random, expert)`` mean returns in the clean chain (the score's 0 and 1)."""
    uniform = np.random.default_rng(123)
    random = mean_return(world, lambda s: int(uniform.integers(3)), episodes=episodes)
    return random, mean_return(world, lambda s: RIGHT, episodes=1)


def score(value: float, random: float, expert: float) -> float:
    """Normalised score: 0 is random play, 1 the expert (both in the clean chain)."""
    return (value - random) / (expert - random)
