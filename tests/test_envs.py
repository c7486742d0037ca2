"""Game makers: seeding, stepping, control rates, options and errors."""

from __future__ import annotations

import numpy as np
import pytest

from lfo.envs.games import GAMES, get_game, make_env, make_raw_env


@pytest.mark.parametrize("game", sorted(GAMES))
def test_make_env_steps_and_resets_with_seeds(game):
    spec = get_game(game)
    first = make_env(game, seed=7)
    second = make_env(game, seed=7)
    assert first.observation_space.shape == spec.preprocess.stacked_shape
    trace = []
    for env in (first, second):
        obs, _ = env.reset(seed=11)
        assert obs.shape == spec.preprocess.stacked_shape and obs.dtype == np.uint8
        rewards = []
        for t in range(30):
            obs, reward, terminated, truncated, _ = env.step(t % env.action_space.n)
            rewards.append(reward)
            assert not (terminated or truncated)
        trace.append((obs.copy(), rewards))
    np.testing.assert_array_equal(trace[0][0], trace[1][0])
    assert trace[0][1] == trace[1][1]


def test_control_rates():
    assert make_raw_env("carracing").metadata["control_hz"] == 50.0
    assert make_raw_env("pong").metadata["control_hz"] == 15.0
    assert make_raw_env("breakout", frameskip=2).metadata["control_hz"] == 30.0
    assert get_game("ALE/Pong-v5").name == "pong"


def test_action_repeat_holds_each_action_and_lowers_the_control_rate():
    assert make_raw_env("carracing", action_repeat=4).metadata["control_hz"] == 12.5
    assert make_raw_env("pong", action_repeat=3).metadata["control_hz"] == 5.0
    # one repeated step = four single steps with the same action (same seed, same track)
    once, four = make_env("carracing", seed=3), make_env("carracing", seed=3, action_repeat=4)
    for _ in range(4):
        obs_single, r_single, *_ = once.step(3)
    obs_repeat, r_repeat, *_ = four.step(3)
    np.testing.assert_array_equal(obs_repeat[-1], obs_single[-1])
    # the three stacked frames of the repeated env are 4 env steps apart, not 1
    assert not np.array_equal(obs_repeat[-2], obs_single[-2])
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="action_repeat must be an integer >= 1"):
            make_raw_env("carracing", action_repeat=bad)


def test_shift_options_reach_the_simulator():
    env = make_raw_env("pong", repeat_action_probability=0.0)
    assert env.unwrapped.ale.getFloat("repeat_action_probability") == 0.0
    assert make_raw_env("pong").unwrapped.ale.getFloat("repeat_action_probability") == 0.25
    car = make_raw_env("carracing", domain_randomize=True)
    assert car.unwrapped.domain_randomize is True


def test_unknown_game_and_option_are_clear_errors():
    with pytest.raises(ValueError, match="unknown game 'doom'"):
        make_env("doom")
    with pytest.raises(ValueError, match="unknown option"):
        make_env("pong", turbo=True)


@pytest.mark.parametrize("domain_randomize", [False, True])
def test_fast_road_renderer_gives_the_stock_pixels(domain_randomize):
    """lfo.envs.fast_render draws exactly what gymnasium's own renderer draws: over the start
    zoom, visited tiles changing colour, and a reset onto a new track."""
    import gymnasium as gym

    from lfo.envs.games import make_raw_env

    def frames(env):
        rng = np.random.default_rng(5)
        out = [env.reset(seed=5)[0]]
        for i in range(120):
            out.append(env.step(3 if i % 3 == 0 else int(rng.integers(5)))[0])
        out.append(env.reset(seed=6)[0])
        for _ in range(30):
            out.append(env.step(3)[0])
        env.close()
        return np.stack(out)

    stock = gym.make("CarRacing-v3", continuous=False, domain_randomize=domain_randomize)
    ours = make_raw_env("carracing", domain_randomize=domain_randomize)
    assert ours.unwrapped._render_road.__func__.__name__ == "fast_render_road"
    np.testing.assert_array_equal(frames(ours), frames(stock))
