"""The fast loop: vector envs, the update ratio, batched evaluation, episode caps, devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from test_train import tiny_config

from lfo.algorithms.learner import LearnerSettings, resolve_device
from lfo.algorithms.methods import build_learner
from lfo.data.transitions import Transitions
from lfo.envs.evaluate import evaluate
from lfo.envs.games import GAMES, make_env
from lfo.envs.vector import EpisodeSeeds, make_vector_env, reset_finished
from lfo.loop.trainer import Trainer


@pytest.mark.parametrize("game", sorted(GAMES))
@pytest.mark.parametrize("observe_state", [False, True])
def test_every_game_passes_gymnasiums_env_checker(game, observe_state):
    # GIVEN the env the agent plays (frames, or the privileged state)
    env = make_env(game, observe_state=observe_state)
    # THEN gymnasium's own checker accepts it (the wrappers can be recreated from its spec)
    check_env(env, skip_render_check=True)
    env.close()


def test_episode_seeds_continue_one_sequence_over_all_envs():
    seeds = EpisodeSeeds(1000)
    assert seeds.take(3) == [1000, 1001, 1002]
    assert seeds.take(1) == [1003]
    assert EpisodeSeeds(1000, started=4).take(2) == [1004, 1005]


def test_reset_finished_restarts_only_the_finished_envs_with_their_own_seeds():
    envs = make_vector_env("pong", 3)
    seeds = EpisodeSeeds(500)
    obs, _ = envs.reset(seed=seeds.take(3))
    for _ in range(5):
        obs, *_ = envs.step(np.zeros(3, dtype=np.int64))
    done = np.array([False, True, False])
    fresh = reset_finished(envs, obs, done, seeds)
    envs.close()
    assert seeds.started == 4
    # env 1 now shows episode 3's first frame (seed 503), the others are untouched
    single = make_env("pong")
    first, _ = single.reset(seed=503)
    np.testing.assert_array_equal(fresh[1], first)
    np.testing.assert_array_equal(fresh[[0, 2]], obs[[0, 2]])


def test_updates_follow_train_frequency_and_gradient_steps(tiny_clips, tmp_path):
    trainer = Trainer(tiny_config(tiny_clips, tmp_path / "run", train_frequency=4,
                                  gradient_steps=2, num_envs=1))
    # hand-counted: multiples of 4 in 81..84 from learning_starts=80 on: 84 -> 2 updates
    assert trainer._updates_due(80, 84) == 2
    assert trainer._updates_due(0, 79) == 0
    assert trainer._updates_due(76, 80) == 2  # 80 itself is due
    assert trainer._updates_due(83, 91) == 4  # 84 and 88


@pytest.mark.slow
def test_a_vector_run_keeps_true_final_observations_and_counts_updates(tiny_clips, tmp_path):
    # GIVEN 2 envs whose episodes are capped at 5 agent steps, 1 update per 4 steps
    cfg = tiny_config(tiny_clips, tmp_path / "run", steps=40, learning_starts=20,
                      num_envs=2, vectorization="sync", train_frequency=4, max_episode_steps=5,
                      eval_every=1000)
    trainer = Trainer(cfg)
    trainer.run()
    # THEN every agent step is stored, updates are (40 - 20 + 1) // 4 rounded to multiples
    assert trainer.step == 40 and len(trainer.replay) == 40
    assert trainer.updates == sum(1 for t in range(20, 41) if t % 4 == 0)
    assert trainer.episode == 8  # 2 envs x 20 steps / 5
    # AND within an episode each transition starts where the last one ended, while the
    # last transition of an episode ends on its final frame, not on the next reset frame
    rows = {e: np.arange(e, 40, 2) for e in range(2)}  # env e's transitions, in order
    for env_rows in rows.values():
        obs, nxt = trainer.replay.obs[env_rows], trainer.replay.next_obs[env_rows]
        for k in range(len(env_rows) - 1):
            boundary = (k + 1) % 5 == 0
            same = np.allclose(nxt[k], obs[k + 1])
            assert same != boundary, (k, boundary)
    assert not trainer.replay.done[:40].any()  # truncation is not termination


@pytest.mark.slow
def test_sync_and_async_envs_give_the_same_run(tiny_clips, tmp_path):
    runs = {}
    for mode in ("sync", "async"):
        trainer = Trainer(tiny_config(tiny_clips, tmp_path / mode, steps=60, learning_starts=20,
                                      num_envs=2, vectorization=mode, eval_every=1000,
                                      train_frequency=2))
        summary = trainer.run()
        runs[mode] = (trainer.replay.obs[:60].copy(), trainer.replay.action[:60].copy(),
                      summary["greedy_mean"], summary["sampled_mean"])
    for a, b in zip(runs["sync"], runs["async"], strict=True):
        np.testing.assert_array_equal(a, b)


class _ConstantPolicy:
    def __init__(self, action: int) -> None:
        self.action, self.batches = action, []

    def __call__(self, obs):
        return self.action

    def act_batch(self, obs):
        self.batches.append(len(obs))
        return np.full(len(obs), self.action)


def test_evaluation_side_by_side_equals_one_episode_at_a_time():
    policy = _ConstantPolicy(2)
    kw = dict(max_steps=60)
    one = evaluate("pong", policy, [0, 1, 2], num_envs=1, **kw)
    assert set(policy.batches) == {1}
    policy.batches.clear()
    together = evaluate("pong", policy, [0, 1, 2], **kw)
    assert max(policy.batches) == 3  # one batched call for the three episodes
    assert [e.seed for e in together.episodes] == [0, 1, 2]
    for a, b in zip(one.episodes, together.episodes, strict=True):
        assert (a.episode_return, a.length, a.first_actions) == (
            b.episode_return, b.length, b.first_actions)


def test_an_agent_that_never_serves_ends_its_breakout_episode():
    # GIVEN Breakout and a policy that never presses FIRE (NOOP forever)
    result = evaluate("breakout", _ConstantPolicy(0), [0])
    # THEN the no-reward timeout ends the episode long before the ALE's 27,000 steps
    assert result.episodes[0].length == GAMES["breakout"].no_reward_timeout
    assert result.episodes[0].episode_return == 0


def test_breakout_episodes_are_capped_at_the_games_own_limit():
    capped = make_env("breakout")
    while hasattr(capped, "env") and type(capped).__name__ != "TimeLimit":
        capped = capped.env
    assert type(capped).__name__ == "TimeLimit"
    assert capped._max_episode_steps == GAMES["breakout"].max_episode_steps


def test_device_auto_is_the_cpu_here_and_missing_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(ValueError, match="no CUDA"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu9")


@pytest.mark.parametrize("method", ["iq-idm", "bco", "gaifo", "oracle-bc"])
def test_moving_a_learner_moves_every_network_and_optimiser_state(method):
    # GIVEN a learner that has taken a step (so Adam holds per-parameter state)
    settings = LearnerSettings(hidden=(8,), idm_hidden=(8,)).for_problem(3, 2, 0)
    learner = build_learner(method, settings)
    batch = Transitions(obs=torch.randn(4, 3), action=torch.tensor([0, 1, 0, 1]),
                        next_obs=torch.randn(4, 3), done=torch.zeros(4))
    learner.update(batch, batch, 0)
    # WHEN it moves to the meta device (shape-only tensors: any device would do)
    learner.to("meta")
    # THEN no parameter and no optimiser state is left on the CPU
    tensors = []
    for value in vars(learner).values():
        owners = [value] + [getattr(value, n) for n in ("q", "q_target", "net", "optimizer")
                            if hasattr(value, n)]
        for owner in owners:
            if isinstance(owner, torch.nn.Module):
                tensors += list(owner.parameters())
            if isinstance(owner, torch.optim.Optimizer):
                tensors += [t for s in owner.state.values() for t in s.values()
                            if isinstance(t, torch.Tensor) and t.dim() > 0]
        if isinstance(value, torch.optim.Optimizer):
            tensors += [t for s in value.state.values() for t in s.values()
                        if isinstance(t, torch.Tensor) and t.dim() > 0]
    assert tensors and all(t.device.type == "meta" for t in tensors)


def test_exploration_epsilon_decays_linearly_after_the_warm_up(tiny_clips, tmp_path):
    trainer = Trainer(tiny_config(tiny_clips, tmp_path / "run", explore_epsilon=1.0,
                                  explore_epsilon_final=0.1, explore_decay_steps=100))
    for step, expected in ((0, 1.0), (80, 1.0), (130, 0.55), (180, 0.1), (240, 0.1)):
        trainer.step = step
        assert trainer.exploration_epsilon() == pytest.approx(expected)
    constant = Trainer(tiny_config(tiny_clips, tmp_path / "run2", explore_epsilon=0.2))
    constant.step = 200
    assert constant.exploration_epsilon() == 0.2
