"""A tiny chain MDP and an online loop on it: a seconds-long test bed for ``lfo.algorithms.iq`` and
for
every learner of :mod:`lfo.algorithms.methods` (:func:`train_learner_on_chain`).

States 0..n-1 on a line, one-hot features, actions 0 = left, 1 = stay, 2 = right. Every
episode starts at 0; reaching the goal n-1 terminates (or, with ``terminal_goal=False``,
the goal is absorbing and the episode runs to the time limit). The expert always walks
right. With probability ``slip`` the chosen action is replaced by a uniformly random one.
The env reward (-1 per step taken away from the goal, used for evaluation only) makes the
expert's return -(n-1) when nothing slips, and a uniformly random walker's about -horizon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lfo.algorithms.agent import SoftQAgent, SoftQConfig
from lfo.algorithms.iq_learner import IQLearner
from lfo.algorithms.learner import Learner, LearnerSettings
from lfo.data.transitions import Transitions

LEFT, STAY, RIGHT = 0, 1, 2


@dataclass
class ChainMDP:
    """A 1-D chain: start at 0, terminal goal at n-1, time limit ``horizon``."""

    n: int = 8
    horizon: int = 20
    slip: float = 0.0
    terminal_goal: bool = True
    trap: bool = False
    """Stepping left from state 0 falls off the chain: the episode terminates there, and
    the evaluation reward counts every step left to the time limit as lost (-1 each)."""

    @property
    def n_actions(self) -> int:
        return 3

    def features(self, state: int | np.ndarray) -> np.ndarray:
        """One-hot feature vector(s) of a state index (or an array of them)."""
        return np.eye(self.n, dtype=np.float32)[state]

    def step(self, state: int, action: int, rng: np.random.Generator) -> tuple[int, bool]:
        """Next state and whether it is terminal."""
        if self.slip > 0 and rng.random() < self.slip:
            action = int(rng.integers(3))
        goal = self.n - 1
        if state == goal and not self.terminal_goal:
            return goal, False  # absorbing
        if self.trap and state == 0 and action == LEFT:
            return 0, True  # fell off the left end
        nxt = int(np.clip(state + (action - 1), 0, goal))
        return nxt, self.terminal_goal and nxt == goal

    def rollout(
        self, policy, rng: np.random.Generator
    ) -> tuple[list[tuple[int, int, int, bool]], float]:
        """One episode with ``policy(state) -> action``: (s, a, s', terminated) list and return."""
        state, steps, ret = 0, [], 0.0
        for t in range(self.horizon):
            action = int(policy(state))
            nxt, done = self.step(state, action, rng)
            steps.append((state, action, nxt, done))
            ret -= float(state != self.n - 1)
            state = nxt
            if done:
                if nxt != self.n - 1:  # fell into the trap: the rest of the time is lost
                    ret -= self.horizon - t - 1
                break
        return steps, ret


def expert_transitions(
    mdp: ChainMDP, episodes: int, seed: int = 0, first_state: int = 0
) -> tuple[Transitions, np.ndarray]:
    """Expert (walk-right) state pairs, with their true actions returned separately.

    ``first_state`` > 0 keeps only the pairs from that state on: clips that start
    mid-episode, so the agent's first states look like no expert's.
    """
    rng = np.random.default_rng(seed)
    rows = [t for _ in range(episodes) for t in mdp.rollout(lambda s: RIGHT, rng)[0]
            if t[0] >= first_state]
    s, a, s2, d = (np.array(c) for c in zip(*rows, strict=True))
    batch = Transitions(
        obs=torch.from_numpy(mdp.features(s)),
        next_obs=torch.from_numpy(mdp.features(s2)),
        done=torch.from_numpy(d.astype(np.float32)),
    )
    return batch, a


@dataclass
class ChainRunConfig:
    """Settings of :func:`train_on_chain`."""

    env_steps: int = 1500
    """Online interaction steps (one agent update per step after warm-up)."""
    warmup: int = 100
    """Steps of the initial policy before updates start."""
    batch_size: int = 32
    """Expert and agent batch size (each)."""
    expert_episodes: int = 5
    """Expert episodes recorded as state pairs."""
    idm_soft: bool = True
    """IDM variant: use p(a | s, s') (True) or its argmax (False)."""
    seed: int = 0


def evaluate(agent: SoftQAgent | Learner, mdp: ChainMDP, greedy: bool, episodes: int,
             seed: int, state_features: np.ndarray | None = None) -> float:
    """Mean env return of the agent's (or any learner's) greedy or sampled policy; it sees
    state s as ``state_features[s]`` (default: the chain's one-hot features)."""
    rng = np.random.default_rng(seed)
    feats = mdp.features(np.arange(mdp.n)) if state_features is None else state_features
    return float(
        np.mean(
            [
                mdp.rollout(lambda s: agent.act(feats[s], greedy=greedy), rng)[1]
                for _ in range(episodes)
            ]
        )
    )


def chain_settings(mdp: ChainMDP, seed: int = 0, **overrides) -> LearnerSettings:
    """Learner settings sized for the chain: tables (linear heads on one-hot states),
    a 32-unit inverse dynamics model updated every step, fast learning rates."""
    base = dict(obs_dim=mdp.n, n_actions=mdp.n_actions, hidden=(), alpha=0.1, gamma=0.9,
                lr=0.02, tau=0.1, idm_hidden=(32,), idm_lr=1e-2, idm_update_every=1, seed=seed)
    return LearnerSettings(**{**base, **overrides})


def train_on_chain(
    mdp: ChainMDP, agent_config: SoftQConfig, run: ChainRunConfig
) -> tuple[SoftQAgent, dict[str, float]]:
    """Online IQ on the chain from expert state pairs; returns the agent and final metrics.

    The expert's true actions are used only by ``variant="actions"`` (the oracle).
    """
    torch.manual_seed(run.seed)
    settings = chain_settings(mdp, seed=run.seed, idm_soft=run.idm_soft)
    learner = IQLearner(settings, agent_config.variant, agent_config=agent_config)
    metrics = train_learner_on_chain(mdp, learner, run)
    return learner.agent, metrics


def train_learner_on_chain(
    mdp: ChainMDP,
    learner: Learner,
    run: ChainRunConfig,
    *,
    state_features: np.ndarray | None = None,
    expert: Transitions | None = None,
) -> dict[str, float]:
    """Any :class:`~lfo.algorithms.learner.Learner` on the chain; returns its final metrics.

    Online learners play ``run.env_steps`` steps and update once per step after
    ``run.warmup``; an offline learner (``interacts`` false) takes ``run.env_steps``
    updates on expert batches alone. The expert's true actions are attached to the
    expert batches only for learners with ``uses_expert_actions`` (the oracles).

    The learner sees state s as ``state_features[s]`` (default: one-hot) and learns from
    ``expert`` pairs (default: the chain expert's own, on the same features); the pixel
    chain passes rendered-frame features and pairs decoded from (shifted) videos.
    """
    rng = np.random.default_rng(run.seed)
    if expert is None:
        expert, expert_actions = expert_transitions(mdp, run.expert_episodes,
                                                    seed=run.seed + 1)
        if learner.uses_expert_actions:
            expert.action = torch.from_numpy(expert_actions)
    elif learner.uses_expert_actions and expert.action is None:
        raise ValueError(f"{learner.name} needs expert actions; the given pairs have none")

    cap = run.env_steps
    obs = np.zeros(cap, dtype=np.int64)
    act = np.zeros(cap, dtype=np.int64)
    nxt = np.zeros(cap, dtype=np.int64)
    done = np.zeros(cap, dtype=np.float32)
    table = mdp.features(np.arange(mdp.n)) if state_features is None else state_features
    feats = torch.from_numpy(np.asarray(table, dtype=np.float32))
    state, t_ep, last = 0, 0, {}
    for t in range(run.env_steps):
        agent_batch = None
        if learner.interacts:
            a = int(learner.act(feats[state]))
            s2, term = mdp.step(state, a, rng)
            obs[t], act[t], nxt[t], done[t] = state, a, s2, term
            t_ep += 1
            # a time-limit reset is not a termination: done stays False for that transition
            state, t_ep = (0, 0) if term or t_ep >= mdp.horizon else (s2, t_ep)
            if t + 1 < run.warmup:
                continue
            i = rng.integers(0, t + 1, size=run.batch_size)
            agent_batch = Transitions(
                feats[obs[i]], feats[nxt[i]], torch.from_numpy(done[i]), torch.from_numpy(act[i])
            )
        j = rng.integers(0, len(expert), size=run.batch_size)
        expert_batch = Transitions(
            expert.obs[j],
            expert.next_obs[j],
            expert.done[j],
            None if expert.action is None else expert.action[j],
        )
        last.update(learner.update(expert_batch, agent_batch, t + 1))

    metrics = dict(last)
    metrics["return_greedy"] = evaluate(learner, mdp, greedy=True, episodes=5,
                                        seed=run.seed + 2, state_features=table)
    metrics["return_sampled"] = evaluate(learner, mdp, greedy=False, episodes=20,
                                         seed=run.seed + 3, state_features=table)
    greedy = np.asarray(learner.act(feats, greedy=True))
    metrics["greedy_right_frac"] = float(np.mean(greedy[:-1] == RIGHT))
    return metrics
