"""The scripted Atari experts: their models match the emulator, and they play well."""

from __future__ import annotations

import numpy as np
import pytest

from lfo.demonstrations.experts.atari import (
    BreakoutConfig,
    BreakoutExpert,
    Contact,
    PaddleModel,
    PaddleObserver,
    PongConfig,
    PongExpert,
    fold,
    gaussian_offsets,
    plan_contact,
    pong_ball_frame,
    pong_run,
    rest_from_motion,
)

gym = pytest.importorskip("gymnasium")
ale_py = pytest.importorskip("ale_py")
gym.register_envs(ale_py)


def rollout(env_id: str, policy, seed: int, steps: int) -> tuple[list[int], list[float]]:
    """Actions and rewards of ``steps`` steps from ``env.reset(seed)`` (default sticky 0.25)."""
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset(env)
    actions, rewards = [], []
    for _ in range(steps):
        a = policy.act(env, obs)
        obs, r, term, trunc, _ = env.step(a)
        actions.append(a)
        rewards.append(r)
        if term or trunc:
            break
    env.close()
    return actions, rewards


class RandomPolicy:
    def __init__(self, n: int, seed: int) -> None:
        self.n, self.rng = n, np.random.default_rng(seed)

    def act(self, env, obs) -> int:
        return int(self.rng.integers(self.n))


# --- pure pieces ---------------------------------------------------------------------


def test_fold_mirrors_between_walls():
    assert fold(60.0, 55.0, 201.0) == 60.0
    assert fold(50.0, 55.0, 201.0) == 60.0  # 5 past the left wall -> 5 inside
    assert fold(206.0, 55.0, 201.0) == 196.0
    assert fold(201.0 + 146.0 + 10.0, 55.0, 201.0) == 65.0  # two bounces


def test_pong_ball_bounces_as_measured():
    # Frame sequences read off the emulator: 48, 46, 44, 47, 49 and 203, 205, 207, 204.
    assert pong_ball_frame(46, -2) == (44, -2)
    assert pong_ball_frame(44, -2) == (47, 2)
    assert pong_ball_frame(45, -1) == (47, 1)
    assert pong_ball_frame(207, 2) == (204, -2)
    assert pong_ball_frame(206, 1) == (204, -1)


def test_pong_computer_paddle_rests_on_every_eighth_frame():
    # Ball flying flat at y=100 towards the computer, its paddle 20 below: it climbs 2
    # per frame except when the frame counter is a multiple of 8.
    frames = pong_run(150, 100, -1, 0, 120, 0, until_x=140)
    cpu = [f[3] for f in frames]
    assert cpu[:3] == [120, 118, 116]  # counter 0: no move, then 2 per frame
    assert cpu[8] == cpu[7]  # counter 8: no move
    assert len(frames) == 10


def test_pong_paddle_model_matches_measured_steps():
    # Measured (RAM 51 after each 4-frame step, no sticky actions): holding LEFT (down)
    # from rest at 109 gives 118, 139, 161; one press from rest at 201 then release
    # gives 191, 181, 178, 178.
    model = PaddleModel(sticky=0.0)
    none = np.zeros((1, 3), dtype=int)
    pos, _ = model.rollout(109, 109, 0, np.array([[1, 1, 1]]), none, [4, 8, 12])
    np.testing.assert_allclose(pos[0, 0], [118, 139, 161], atol=1.5)  # the game rounds
    pos, _ = model.rollout(201, 201, 0, np.array([[-1, 0, 0]]), none, [4, 8, 12, 16])
    np.testing.assert_allclose(pos[0, 0], [191, 181, 178, 178], atol=1.0)


def test_breakout_paddle_model_lags_one_frame():
    # Measured frame by frame: 3 frames of LEFT from rest at 146 show 146, 143, 139,
    # then released 134, 131, 130, 129.
    model = PaddleModel(
        lo=55, hi=191, rest_hi=236, update_frames=(0, 1, 2, 3), lag=True, sticky=0.0
    )
    # A sticky delay of 1 frame on the first step: 1 frame of NOOP, then 3 of LEFT.
    plan, delays = np.array([[-1, 0]]), np.array([[1, 0]])
    pos, rests = model.rollout(146, 146, 0, plan, delays, list(range(2, 9)))
    np.testing.assert_allclose(pos[0, 0], [146, 143, 139, 134, 131, 130, 129], atol=0.6)
    assert rests[0, 0, 0] == pytest.approx(146 - 3 * 5.75)


def test_observer_recovers_the_rest_point_from_positions():
    model = PaddleModel(sticky=0.0)
    obs = PaddleObserver(model)
    obs.update(109.0, 0)
    truth = model.rollout(109, 109, 0, np.array([[1]]), np.zeros((1, 1), dtype=int), [4])[0]
    rest = obs.update(float(truth[0, 0, 0]), 1)
    assert rest == pytest.approx(109 + 4 * 5.75, abs=0.5)


def test_plan_contact_moves_towards_a_far_contact_and_holds_when_there():
    model = PaddleModel()
    frames, ball = (40, 41, 42), np.full(3, 180.0)
    # the ball will pass ~60 units below the paddle's centre: push down (+1)
    contact = Contact(frames, ball, (-2, 16), np.ones(19), -1.0, target=173.0)
    assert plan_contact(model, 113, 113, 0, contact) == 1
    # paddle already on it: hold, even though pressing and releasing would also work
    assert plan_contact(model, 173, 173, 0, contact, press_cost=0.05) == 0
    # a miss is worse than any hit: even a worthless hit is worth moving for
    bad = Contact(frames, ball, (-2, 16), np.zeros(19), -1.0, target=173.0)
    assert plan_contact(model, 113, 113, 0, bad, press_cost=0.05) == 1


def test_plan_contact_picks_the_valuable_zone():
    # Every offset in a wide reach hits; only offsets 28..32 are worth anything. The
    # paddle faces the ball at offset 7; one press up (23 units) brings it to 30.
    model = PaddleModel(sticky=0.0)
    values = np.zeros(41)
    values[30:35] = 1.0
    contact = Contact((40,), np.array([150.0]), (-2, 38), values, -1.0, target=120.0)
    assert plan_contact(model, 143, 143, 0, contact) == -1
    # nothing to gain anywhere and the target where the paddle is: stay
    flat = Contact((40,), np.array([150.0]), (-2, 38), np.zeros(41), -1.0, target=143.0)
    assert plan_contact(model, 143, 143, 0, flat, press_cost=0.05) == 0


def test_gaussian_offsets_are_a_distribution():
    offsets, weights = gaussian_offsets(1.5)
    assert weights.sum() == pytest.approx(1.0)
    assert offsets[np.argmax(weights)] == 0


# --- playing ---------------------------------------------------------------------------


def test_pong_expert_wins_points_where_random_loses_them():
    steps = 700
    _, rewards = rollout("ALE/Pong-v5", PongExpert(seed=3), seed=3, steps=steps)
    _, random_rewards = rollout("ALE/Pong-v5", RandomPolicy(6, 3), seed=3, steps=steps)
    won, lost = sum(r > 0 for r in rewards), sum(r < 0 for r in rewards)
    assert won >= 2 and lost == 0, (won, lost)
    assert sum(r < 0 for r in random_rewards) >= 4
    assert sum(rewards) - sum(random_rewards) >= 6


def test_breakout_expert_breaks_many_more_bricks_than_random():
    steps = 700
    _, rewards = rollout("ALE/Breakout-v5", BreakoutExpert(seed=3), seed=3, steps=steps)
    _, random_rewards = rollout("ALE/Breakout-v5", RandomPolicy(4, 3), seed=3, steps=steps)
    assert sum(rewards) >= 25, sum(rewards)
    assert sum(rewards) >= 5 * sum(random_rewards) + 20


@pytest.mark.parametrize(
    ("env_id", "cls"), [("ALE/Pong-v5", PongExpert), ("ALE/Breakout-v5", BreakoutExpert)]
)
def test_experts_are_deterministic_given_seeds(env_id, cls):
    # skill < 1 so the lapses' random actions are covered too
    first, _ = rollout(env_id, cls(skill=0.7, seed=11), seed=5, steps=150)
    second, _ = rollout(env_id, cls(skill=0.7, seed=11), seed=5, steps=150)
    other, _ = rollout(env_id, cls(skill=0.7, seed=12), seed=5, steps=150)
    assert first == second
    assert first != other


def test_rest_point_is_read_off_a_released_paddles_step():
    model = PaddleModel()
    for pos, rest in [(100.0, 150.0), (160.0, 60.0), (90.0, 90.0)]:
        after, _ = model.rollout(pos, rest, 0, np.array([[0]]), np.array([[0]]), [model.frames])
        end = float(after[0, 0, 0])
        assert rest_from_motion(model, end, end - pos) == pytest.approx(rest)


GAMES = {"pong": ("ALE/Pong-v5", PongExpert, PongConfig),
         "breakout": ("ALE/Breakout-v5", BreakoutExpert, BreakoutConfig)}


def scrambled_history_agrees(game: str, memoryless: bool, steps: int = 400) -> tuple[int, int]:
    """(steps where an expert with another past picks the same action, steps compared).

    At every step a second expert is given what the state shows of the previous step (the
    paddle's position: its velocity; the ball's position: its velocity) but another last
    action, rest point estimate and rally count (what no state shows), and asked for its
    action.
    """
    env_id, cls, config_cls = GAMES[game]
    env = gym.make(env_id)
    obs, _ = env.reset(seed=4)
    expert = cls(seed=4, config=config_cls(memoryless=memoryless))
    expert.reset(env)
    same = 0
    for t in range(steps):
        other = cls(seed=4, config=config_cls(memoryless=memoryless))
        other._observer.pos = expert._observer.pos
        other._observer.rest = expert._observer.rest + 30.0
        other._observer._prev_dir = 1
        other._last_action = cls.DIRECTION.index(-1 if t % 2 else 1)
        other._rally_returns = 12
        if game == "breakout":
            other._prev_ball = expert._prev_ball
        other_action = other._policy(env, obs)
        action = expert.act(env, obs)
        same += other_action == action
        obs, _, term, trunc, _ = env.step(action)
        if term or trunc:
            break
    env.close()
    return same, t + 1


@pytest.mark.parametrize("game", ["pong", "breakout"])
def test_memoryless_expert_acts_on_the_visible_state_only(game):
    same, steps = scrambled_history_agrees(game, memoryless=True)
    assert same == steps
    # The tracking controller acts on a past no state shows: the same scramble moves it.
    same, steps = scrambled_history_agrees(game, memoryless=False)
    assert same < steps - 10, (same, steps)
