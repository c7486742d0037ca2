"""The Atari privileged state (RAM): the readers against the screen, velocities, replay."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lfo.envs.privileged import (
    BREAKOUT_STATE,
    BREAKOUT_STATE_NAMES,
    PONG_STATE,
    PONG_STATE_NAMES,
    PrivilegedState,
    StateObservation,
)

PONG = {name: i for i, name in enumerate(PONG_STATE_NAMES)}
BREAKOUT = {name: i for i, name in enumerate(BREAKOUT_STATE_NAMES)}

#: object colours in the native RGB frame (ALE's NTSC palette)
PONG_BALL_RGB = (236, 236, 236)
PONG_PADDLE_RGB = (92, 186, 92)  # ours, on the right
BREAKOUT_RGB = (200, 72, 72)  # ball and paddle
PONG_FIELD_ROWS = (34, 194)  # between the top and bottom walls
BREAKOUT_BALL_ROWS = (93, 189)  # below the bricks, above the paddle
BREAKOUT_PADDLE_ROWS = (189, 193)


def unscale(state: np.ndarray, variables) -> dict[str, float]:
    return {v.name: float(x) * v.scale for v, x in zip(variables, state, strict=True)}


def pixels(frame: np.ndarray, rgb, rows) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.nonzero((frame[rows[0] : rows[1]] == rgb).all(-1))
    return ys + rows[0], xs


def play(game: str, steps: int, seed: int = 3, fire_every: int = 0):
    """Random play through PrivilegedState: yields (frame, state, action) after each step."""
    from lfo.envs.games import make_raw_env

    env = PrivilegedState(make_raw_env(game), game)
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for t in range(steps):
        fire = fire_every and t % fire_every == 0
        action = 1 if fire else int(rng.integers(env.action_space.n))
        obs, _, terminated, truncated, info = env.step(action)
        yield obs, info["state"], info["state_valid"]
        if terminated or truncated:
            obs, info = env.reset(seed=seed + t)
    env.close()


def test_pong_reader_puts_ball_and_paddle_where_the_screen_shows_them():
    balls = paddles = 0
    for frame, state, valid in play("pong", 400):
        s = unscale(state, PONG_STATE)
        ys, xs = pixels(frame, PONG_BALL_RGB, PONG_FIELD_ROWS)
        if s["ball_in_play"] and len(xs):
            assert valid[PONG["ball_x"]] and valid[PONG["ball_y"]]
            # pixel centre = RAM - 48.5 (x), RAM - 12.5 (y) (notes/expert_atari.md)
            assert abs(xs.mean() - (s["ball_x"] - 48.5)) <= 1.0
            assert abs(ys.mean() - (s["ball_y"] - 12.5)) <= 1.5
            balls += 1
        ys, xs = pixels(frame, PONG_PADDLE_RGB, PONG_FIELD_ROWS)
        if len(ys) == 64:  # the whole 4x16 paddle in view
            assert abs(ys.mean() - (s["paddle_y"] - 6.0)) <= 1.0  # centre = RAM - 6 (+-0.5)
            paddles += 1
    assert balls > 100 and paddles > 100


def test_breakout_reader_puts_ball_and_paddle_where_the_screen_shows_them():
    balls = paddles = 0
    for frame, state, _valid in play("breakout", 400, fire_every=40):
        s = unscale(state, BREAKOUT_STATE)
        ys, xs = pixels(frame, BREAKOUT_RGB, BREAKOUT_BALL_ROWS)
        if s["ball_in_play"] and 0 < len(xs) < 10:  # the ball alone in those rows
            assert abs(xs.mean() - (s["ball_x"] - 48.5)) <= 1.0
            assert abs(ys.mean() - (s["ball_y"] + 10.5)) <= 1.5
            balls += 1
        _, xs = pixels(frame, BREAKOUT_RGB, BREAKOUT_PADDLE_ROWS)
        cols = np.unique(xs)
        runs = np.split(cols, np.flatnonzero(np.diff(cols) != 1) + 1)
        paddle = max(runs, key=len)  # the wall's foot shows a few pixels of the same red
        if len(paddle) >= 8:
            assert paddle[0] == round(s["paddle_x"]) - 47  # left pixel = RAM - 47
            paddles += 1
        assert s["paddle_half_width"] in (6, 8) and 0 <= s["lives"] <= 5
    assert balls > 50 and paddles > 300


@pytest.mark.parametrize("game", ["pong", "breakout"])
def test_step_velocities_are_differences_of_successive_states(game):
    from lfo.envs.games import make_raw_env

    variables = PONG_STATE if game == "pong" else BREAKOUT_STATE
    pos, vel = ("paddle_y", "paddle_dy") if game == "pong" else ("paddle_x", "paddle_dx")
    env = PrivilegedState(make_raw_env(game), game)
    _, info = env.reset(seed=5)
    prev = unscale(info["state"], variables)
    assert prev[vel] == 0.0  # no previous step at reset
    rng = np.random.default_rng(0)
    moved = 0
    for _ in range(200):
        *_, info = env.step(int(rng.integers(env.action_space.n)))
        s = unscale(info["state"], variables)
        assert s[vel] == pytest.approx(s[pos] - prev[pos], abs=1e-4)
        moved += s[vel] != 0
        prev = s
    _, info = env.reset(seed=6)  # memory cleared: a new episode starts at rest
    assert unscale(info["state"], variables)[vel] == 0.0
    assert moved > 10
    env.close()


@pytest.mark.parametrize("game", ["pong", "breakout"])
def test_state_observation_with_an_action_repeat_matches_single_steps(game):
    """With action_repeat=k the agent's state is the k-th single step's (the one a replayed
    clip resampled to the lower rate gives): differences still span one env step."""
    from lfo.envs.games import make_env, make_raw_env

    env = make_env(game, observe_state=True, action_repeat=2)
    single = PrivilegedState(make_raw_env(game), game)
    obs, _ = env.reset(seed=9)
    _, info = single.reset(seed=9)
    assert np.array_equal(obs, info["state"])
    rng = np.random.default_rng(1)
    for _ in range(60):
        a = int(rng.integers(env.action_space.n))
        obs, *_ = env.step(a)
        single.step(a)
        *_, info = single.step(a)
        assert np.array_equal(obs, info["state"])
    env.close()
    single.close()


def test_replay_retraces_a_recorded_pong_clip_with_sticky_actions(tmp_path):
    from lfo.demonstrations.labels import read_expert_actions
    from lfo.demonstrations.privileged_clips import ReplayMismatch, clip_states
    from lfo.demonstrations.recorder import RecordConfig, record_videos
    from lfo.envs.games import make_raw_env

    record_videos(RecordConfig(env="pong", episodes=1, out=tmp_path, max_episode_steps=300),
                  progress=False)
    clip = tmp_path / "clip_000.mp4"
    meta = json.loads(clip.with_suffix(".json").read_text())
    assert meta["env_kwargs"]["repeat_action_probability"] == 0.25  # sticky actions on
    states, valid = clip_states(clip, "pong", cache_dir=tmp_path / "cache")
    assert states.shape == (301, len(PONG_STATE_NAMES))
    # the same seed and actions played live give the same states and return
    env = PrivilegedState(make_raw_env("pong"), "pong")
    _, info = env.reset(seed=meta["seed"])
    live, total = [info["state"]], 0.0
    for a in read_expert_actions(clip):
        _, r, _, _, info = env.step(int(a))
        live.append(info["state"])
        total += r
    env.close()
    assert total == meta["return"]
    assert np.array_equal(np.stack(live), states)
    # another seed does not retrace it: sticky actions and the serve depend on the seed
    data = dict(meta, seed=meta["seed"] + 1)
    clip.with_suffix(".json").write_text(json.dumps(data))
    try:
        other, _ = clip_states(clip, "pong", cache_dir=None)
        assert not np.array_equal(other, states)
    except ReplayMismatch:
        pass
    # a sidecar whose return the replay does not reach is refused
    data = dict(meta, **{"return": meta["return"] + 5.0})
    clip.with_suffix(".json").write_text(json.dumps(data))
    with pytest.raises(ReplayMismatch, match="differs from the recorded"):
        clip_states(clip, "pong", cache_dir=None)


def test_state_encoder_refuses_another_games_state():
    import encoders
    from encoders.registry import EncoderError, check_encoder_fits

    pong = encoders.load("state-pong")
    assert pong.privileged and pong.spec.feature_dim == len(PONG_STATE_NAMES)
    x = np.zeros((3, len(PONG_STATE_NAMES)), dtype=np.float32)
    assert np.array_equal(pong.encode(x), x)
    with pytest.raises(ValueError, match="expects"):
        pong.encode(np.zeros((3, len(PONG_STATE_NAMES) + 1), dtype=np.float32))
    with pytest.raises(ValueError, match="expects"):
        pong.encode(np.zeros((3, 84, 84), dtype=np.uint8))  # frames, not states
    check_encoder_fits(pong, "pong")
    # Pong and Breakout share an encoder family, but not a simulator state
    with pytest.raises(EncoderError, match="state-breakout"):
        check_encoder_fits(pong, "breakout")
    with pytest.raises(EncoderError, match="state-pong"):
        check_encoder_fits(encoders.load("state-breakout"), "pong")


def test_state_observation_refuses_a_wrapper_of_another_game():
    from lfo.envs.games import make_raw_env

    with pytest.raises(ValueError, match="breakout's privileged state, not pong's"):
        StateObservation(make_raw_env("breakout", privileged_state=True), "pong")


def test_replay_uses_the_recorded_sticky_setting(tmp_path):
    """A clip recorded with sticky actions off is replayed with them off (a setting that
    differs from the game's default is part of the recording)."""
    from lfo.demonstrations.labels import read_expert_actions
    from lfo.demonstrations.privileged_clips import clip_states
    from lfo.demonstrations.recorder import RecordConfig, record_videos
    from lfo.envs.games import make_raw_env

    record_videos(RecordConfig(env="pong", episodes=1, out=tmp_path, max_episode_steps=200,
                               env_options={"repeat_action_probability": 0.0}),
                  progress=False)
    clip = tmp_path / "clip_000.mp4"
    states, _ = clip_states(clip, "pong", cache_dir=None)
    env = PrivilegedState(make_raw_env("pong", repeat_action_probability=0.0), "pong")
    _, info = env.reset(seed=json.loads(clip.with_suffix(".json").read_text())["seed"])
    live = [info["state"]] + [env.step(int(a))[-1]["state"] for a in read_expert_actions(clip)]
    env.close()
    assert np.array_equal(np.stack(live), states)
    # the default sticky setting would not retrace it (the expert presses ~18 times here)
    env = PrivilegedState(make_raw_env("pong"), "pong")
    _, info = env.reset(seed=json.loads(clip.with_suffix(".json").read_text())["seed"])
    sticky = [info["state"]] + [env.step(int(a))[-1]["state"] for a in read_expert_actions(clip)]
    env.close()
    assert not np.array_equal(np.stack(sticky), states)


def test_breakout_intercept_says_where_a_falling_ball_reaches_the_paddle():
    # Predictions made while the ball falls below the bricks (only the side walls in its
    # way) against the ball x on the first step it reaches the paddle's height.
    predicted, errors = [], []
    for _frame, state, _valid in play("breakout", 1500, seed=7, fire_every=25):
        s = unscale(state, BREAKOUT_STATE)
        if not s["ball_in_play"]:
            predicted = []
            continue
        if s["ball_y"] >= 176.5:  # (float32 states: 177 may read 176.99998)
            errors += [abs(s["ball_x"] - x) for x in predicted]
            predicted = []
        elif s["ball_vy"] > 0 and s["ball_y"] > 110 and s["ball_dx"] != 0:
            predicted.append(s["intercept_x"])
            assert s["intercept_gap"] == pytest.approx(s["intercept_x"] - s["paddle_x"], abs=1e-3)
            assert 0 < s["intercept_steps"] < 20
        else:
            predicted = []
    assert len(errors) > 20
    # a step spans 4 frames, so the ball is seen up to a step past the paddle's height
    assert np.median(errors) <= 3.0 and np.mean(errors) <= 5.0, (np.median(errors), np.mean(errors))


def test_breakout_geometry_matches_the_experts():
    from lfo.demonstrations.experts.atari import BreakoutConfig
    from lfo.envs import privileged

    cfg = BreakoutConfig()
    assert privileged.BREAKOUT_WALLS == cfg.walls
    assert privileged.BREAKOUT_PADDLE_Y == cfg.window[0]
    assert privileged.BREAKOUT_TURN_Y == (cfg.ceiling, cfg.top)
    assert privileged.BREAKOUT_FRAMES == cfg.paddle.frames
