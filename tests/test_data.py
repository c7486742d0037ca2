"""Replay buffer: checkpoints round-trip, and a resumed run may grow or shrink the buffer."""

import numpy as np
import pytest

from lfo.data.transitions import ReplayBuffer


def _filled(capacity: int, n: int) -> ReplayBuffer:
    buf = ReplayBuffer(capacity, obs_dim=2)
    for t in range(n):
        buf.add(np.full(2, t, np.float32), t % 3, np.full(2, t + 1, np.float32), t % 5 == 0)
    return buf


def _stored_times(buf: ReplayBuffer) -> list[int]:
    return sorted(int(x) for x in buf.obs[: len(buf), 0])


def test_same_capacity_round_trip_is_exact():
    src = _filled(4, 6)  # wrapped: holds t = 2..5, cursor 2
    dst = ReplayBuffer(4, obs_dim=2)
    dst.load_state_dict(src.state_dict())
    assert dst.cursor == src.cursor == 2 and len(dst) == 4
    np.testing.assert_array_equal(dst.obs, src.obs)
    np.testing.assert_array_equal(dst.action, src.action)


@pytest.mark.parametrize("n", [3, 6])
def test_larger_capacity_keeps_every_transition_in_order(n):
    src = _filled(4, n)
    dst = ReplayBuffer(10, obs_dim=2)
    dst.load_state_dict(src.state_dict())
    kept = list(range(max(0, n - 4), n))
    assert [int(x) for x in dst.obs[: len(dst), 0]] == kept  # oldest first
    assert dst.action[: len(dst)].tolist() == [t % 3 for t in kept]
    assert dst.done[: len(dst)].tolist() == [float(t % 5 == 0) for t in kept]
    dst.add(np.full(2, 99, np.float32), 0, np.full(2, 100, np.float32), False)
    assert _stored_times(dst) == kept + [99]  # new transitions go after the restored ones


def test_smaller_capacity_keeps_the_newest():
    src = _filled(8, 11)  # holds t = 3..10
    dst = ReplayBuffer(3, obs_dim=2)
    dst.load_state_dict(src.state_dict())
    assert _stored_times(dst) == [8, 9, 10] and dst.cursor == 0
    dst.add(np.full(2, 11, np.float32), 0, np.full(2, 12, np.float32), False)
    assert _stored_times(dst) == [9, 10, 11]  # the oldest (t = 8) is overwritten first


def test_feature_size_mismatch_is_an_error():
    with pytest.raises(ValueError, match="features of shape"):
        ReplayBuffer(4, obs_dim=3).load_state_dict(_filled(4, 2).state_dict())
