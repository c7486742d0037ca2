"""The privileged state (the ideal encoder's rung): the reader, the env wrapper, the replay."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lfo.envs.privileged import (
    CARRACING_STATE_NAMES,
    LOOKAHEAD_POINTS,
    TRACK_HALF_WIDTH,
    TRACK_STEP,
    PrivilegedState,
    StateObservation,
    car_frame,
    carracing_state_and_valid,
    track_relative,
)

IDX = {name: i for i, name in enumerate(CARRACING_STATE_NAMES)}


def straight_track(n: int = 200) -> np.ndarray:
    """A straight centreline along +x, one point every TRACK_STEP."""
    return np.stack([np.arange(n) * TRACK_STEP, np.zeros(n)], axis=1)


def test_car_frame_matches_box2d_local_axes():
    # Box2D: GetWorldVector((0, 1)) is (-sin a, cos a); the car drives along local +y
    forward, left = car_frame(0.3)
    assert np.allclose(forward, [-math.sin(0.3), math.cos(0.3)])
    assert np.allclose(left, [-math.cos(0.3), -math.sin(0.3)])
    assert abs(np.dot(forward, left)) < 1e-12


def test_state_on_a_straight_with_known_offset_and_heading():
    track = straight_track()
    # car at x = 10 tiles, one half-width to the LEFT of the track direction (+y), pointing
    # along +x (angle -pi/2 makes forward = (1, 0)), then turned 0.1 rad to the left
    position = np.array([10 * TRACK_STEP, TRACK_HALF_WIDTH])
    rel, distance = track_relative(track, position, -math.pi / 2)
    assert distance == pytest.approx(TRACK_HALF_WIDTH)
    offset, heading, ahead = rel[0], rel[1], rel[2:].reshape(-1, 2)
    assert offset == pytest.approx(1.0)  # half-widths, left +
    assert heading == pytest.approx(0.0, abs=1e-9)
    for (fwd, lft), k in zip(ahead, LOOKAHEAD_POINTS, strict=True):
        assert fwd == pytest.approx(k * TRACK_STEP)  # straight ahead along the road
        assert lft == pytest.approx(-TRACK_HALF_WIDTH)  # the centreline is to the right
    rel, _ = track_relative(track, position, -math.pi / 2 + 0.1)
    assert rel[1] == pytest.approx(-0.1)  # track direction minus car heading
    # on the other side of the road the offset changes sign
    rel, _ = track_relative(track, position * [1, -1], -math.pi / 2)
    assert rel[0] == pytest.approx(-1.0)


def test_reader_in_the_env_at_start_and_far_off_the_road():
    from lfo.envs.games import make_raw_env

    env = make_raw_env("carracing")
    env.reset(seed=3)
    state, valid = carracing_state_and_valid(env)
    assert state.shape == (len(CARRACING_STATE_NAMES),) and state.dtype == np.float32
    assert valid.all()
    assert state[IDX["speed"]] == pytest.approx(0.0, abs=1e-6)
    assert abs(state[IDX["lateral_offset"]]) < 0.05  # the car starts on the centreline
    for _ in range(30):
        env.step(3)  # gas
    state, _ = carracing_state_and_valid(env)
    assert state[IDX["speed"]] > 0.05 and state[IDX["rear_wheel_spin"]] > 0
    for _ in range(8):
        env.step(2)  # steer left: the wheel turns left, which is positive
    state, _ = carracing_state_and_valid(env)
    assert state[IDX["wheel_angle"]] > 0.5  # scaled by the 0.4 rad limit
    # teleport the car far from the road: track-relative labels become undefined
    hull = env.unwrapped.car.hull
    hull.position = (hull.position[0] + 500.0, hull.position[1] + 500.0)
    state, valid = carracing_state_and_valid(env)
    relative = [IDX["lateral_offset"], IDX["heading_error"]] + [
        i for n, i in IDX.items() if n.startswith("ahead")]
    assert not valid[relative].any() and valid[[IDX["speed"], IDX["yaw_rate"]]].all()
    assert np.all(np.abs(state[relative]) <= 3.0)  # bounded for a learner on this state
    env.close()


def test_state_observation_env_keeps_the_frame_in_info():
    from lfo.envs.games import make_env

    env = make_env("carracing", observe_state=True)
    obs, info = env.reset(seed=0)
    assert obs.shape == (len(CARRACING_STATE_NAMES),)
    assert info["frame"].shape == (96, 96, 3)
    obs, *_, info = env.step(3)
    assert np.array_equal(obs, info["state"]) and info["state_valid"].dtype == bool
    env.close()


def test_wrapper_refuses_a_game_without_a_state_reader():
    from lfo.envs.games import make_raw_env

    with pytest.raises(ValueError, match="no privileged state reader"):
        PrivilegedState(make_raw_env("pong"), "spaceinvaders")
    with pytest.raises(ValueError, match="no privileged state reader"):
        StateObservation(make_raw_env("pong"), "spaceinvaders")


def test_replay_regenerates_the_recorded_states_and_refuses_a_mismatch(tmp_path):
    from lfo.demonstrations.privileged_clips import ReplayMismatch, clip_states
    from lfo.demonstrations.recorder import RecordConfig, record_videos

    record_videos(RecordConfig(env="carracing", episodes=1, out=tmp_path, max_episode_steps=40),
                  progress=False)
    clip = tmp_path / "clip_000.mp4"
    states, valid = clip_states(clip, "carracing", cache_dir=tmp_path / "cache")
    assert states.shape == (41, len(CARRACING_STATE_NAMES)) and valid.all()
    # the same seed and actions played live give the same states
    from lfo.demonstrations.labels import read_expert_actions
    from lfo.envs.games import make_raw_env

    env = PrivilegedState(make_raw_env("carracing"))
    _, info = env.reset(seed=10_000)
    live = [info["state"]]
    for a in read_expert_actions(clip):
        live.append(env.step(int(a))[-1]["state"])
    assert np.allclose(np.stack(live), states)
    # a cached result is reused; at a quarter of the rate, every 4th state
    again, _ = clip_states(clip, "carracing", cache_dir=tmp_path / "cache")
    assert np.array_equal(again, states)
    quarter, _ = clip_states(clip, "carracing", control_hz=12.5, cache_dir=None)
    assert np.array_equal(quarter, states[::4][: len(quarter)])
    # a sidecar whose return the replay does not reach is refused
    side = clip.with_suffix(".json")
    data = json.loads(side.read_text())
    data["return"] += 50.0
    side.write_text(json.dumps(data))
    with pytest.raises(ReplayMismatch, match="differs from the recorded"):
        clip_states(clip, "carracing", cache_dir=None)


def test_track_labels_are_undefined_when_the_car_faces_against_the_track():
    from lfo.envs.games import make_raw_env

    env = make_raw_env("carracing")
    env.reset(seed=3)
    hull = env.unwrapped.car.hull
    hull.angle = hull.angle + math.pi  # same place, turned around
    state, valid = carracing_state_and_valid(env)
    assert abs(state[IDX["heading_error"]]) >= 2.9  # ~pi, clipped to 3 while undefined
    assert not valid[IDX["lateral_offset"]] and not valid[IDX["ahead2_forward"]]
    assert valid[IDX["speed"]] and valid[IDX["wheel_angle"]]
    env.close()
