"""Linear-probe maths and the privileged CarRacing state read-out."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from lfo.analysis.probe import CarRacingTracker, r2_score, ridge_fit, ridge_probe


def test_r2_score_hand_values():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert r2_score(y, y) == pytest.approx(1.0)
    assert r2_score(y, np.full(4, y.mean())) == pytest.approx(0.0)
    # SS_res = 4 * 1 = 4, SS_tot = 5  ->  1 - 4/5
    assert r2_score(y, y + 1.0) == pytest.approx(0.2)


def test_ridge_fit_recovers_weights_in_original_units():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) * np.array([1.0, 100.0, 0.01]) + 5.0
    w_true = np.array([2.0, -0.03, 40.0])
    y = x @ w_true + 7.0
    w, b = ridge_fit(x, y, l2=1e-9)
    np.testing.assert_allclose(w, w_true, rtol=1e-5)
    assert b == pytest.approx(7.0, abs=1e-3)


def test_ridge_probe_finds_linear_signal_and_rejects_noise():
    """GIVEN synthetic features with one linearly encoded and one unrelated target,
    WHEN probed on held-out episodes, THEN R^2 is ~1 for the first and ~0 for the second."""
    rng = np.random.default_rng(1)
    w = rng.normal(size=16)
    feats, targets = [], []
    for _ in range(10):
        x = rng.normal(size=(200, 16)).astype(np.float32)
        signal = x @ w + 3.0 + 0.05 * rng.normal(size=200)
        noise = rng.normal(size=200)
        signal[:5] = np.nan  # undefined frames are dropped, not fitted
        feats.append(x)
        targets.append({"signal": signal, "noise": noise})
    res = ridge_probe(feats, targets)
    assert res.r2["signal"] > 0.99
    assert res.r2["noise"] < 0.05
    assert res.n_test == 3 * 200  # 30% of 10 episodes held out (NaN-free variable)


def test_ridge_probe_needs_three_episodes():
    with pytest.raises(ValueError, match="at least 3 episodes"):
        ridge_probe([np.zeros((4, 2))] * 2, [{"a": np.zeros(4)}] * 2)


def _fake_env(pos, yaw, vel):
    """A stand-in for CarRacing's env.unwrapped: straight track along +x at y=0."""
    track = [(0.0, 0.0, float(x), 0.0) for x in range(0, 200, 5)]
    fwd = (-math.sin(yaw), math.cos(yaw))  # Box2D: body y axis rotated by angle
    hull = SimpleNamespace(
        position=pos, linearVelocity=vel, GetWorldVector=lambda v: fwd
    )
    unwrapped = SimpleNamespace(track=track, car=SimpleNamespace(hull=hull))
    return SimpleNamespace(unwrapped=unwrapped)


def test_carracing_tracker_offset_heading_speed():
    # Car 3 units left of a +x track, pointing along +x (body angle -pi/2), speed 5.
    env = _fake_env((50.0, 3.0), -math.pi / 2, (3.0, 4.0))
    state = CarRacingTracker(env).state(env)
    assert state["offset"] == pytest.approx(3.0)
    assert state["heading"] == pytest.approx(0.0, abs=1e-9)
    assert state["speed"] == pytest.approx(5.0)
    # Right of the track and turned 0.3 rad to the left.
    env = _fake_env((52.0, -2.0), -math.pi / 2 + 0.3, (0.0, 0.0))
    state = CarRacingTracker(env).state(env)
    assert state["offset"] == pytest.approx(-2.0)
    assert state["heading"] == pytest.approx(0.3)


def test_state_probe_rollouts_are_relabelled_when_the_state_changes(tmp_path):
    from lfo.analysis.state_probe import record_state_clips

    first = record_state_clips("pong", tmp_path, seed=6_000_000, episodes=1, max_steps=5,
                               progress=False)[0]
    labels = tmp_path / "clip_000.state.npz"
    # labels stored by an older state definition (no names, another width)
    np.savez(labels, states=first.states[:, :3], valid=first.valid[:, :3])
    again = record_state_clips("pong", tmp_path, seed=6_000_000, episodes=1, max_steps=5,
                               progress=False)[0]
    assert again.states.shape == first.states.shape
    np.testing.assert_array_equal(again.states, first.states)
    with np.load(labels) as data:
        assert "names" in data and data["names"][0] == "ball_in_play"


def test_an_older_estimator_is_scored_on_the_variables_it_reads():
    from lfo.analysis.state_probe import estimator_columns
    from lfo.envs.privileged import state_variables

    names = tuple(v.name for v in state_variables("breakout"))
    assert estimator_columns(names, names, "breakout") == list(range(len(names)))
    older = names[:10]  # Breakout's state before the intercept variables
    assert estimator_columns(older, names, "breakout") == list(range(10))
    assert estimator_columns(("paddle_x", "ball_x"), names, "breakout") == [
        names.index("paddle_x"), names.index("ball_x")]
    with pytest.raises(ValueError, match="'cpu_y'.*breakout"):
        estimator_columns(("ball_x", "cpu_y"), names, "breakout")
