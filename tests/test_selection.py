"""Choosing a checkpoint without the env's reward (lfo.loop.selection)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from test_train import tiny_config

from lfo.data.transitions import ReplayBuffer
from lfo.loop.selection import chamfer_distance, spearman
from lfo.loop.trainer import train


def test_chamfer_distance_on_hand_computed_points():
    agent = np.array([[0.0, 0.0], [3.0, 0.0]])
    expert = np.array([[0.0, 1.0]])
    # agent -> expert: 1 and sqrt(10); expert -> agent: 1
    assert chamfer_distance(agent, expert) == pytest.approx((1 + np.sqrt(10)) / 2 + 1)
    assert chamfer_distance(expert, expert) == 0.0


def test_an_idling_agent_is_further_from_the_clips_than_one_that_covers_them():
    rng = np.random.default_rng(0)
    expert = rng.uniform(0, 10, size=(500, 2))
    idling = np.zeros((300, 2)) + rng.normal(0, 0.1, (300, 2))  # stuck where clips start
    driving = rng.uniform(0, 10, size=(300, 2))
    assert chamfer_distance(driving, expert) < chamfer_distance(idling, expert)


def test_spearman_on_hand_ranks():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties share their mean rank: x ranks (0, 1.5, 1.5, 3) against y ranks (0, 1, 2, 3)
    expected = np.corrcoef([0, 1.5, 1.5, 3], [0, 1, 2, 3])[0, 1]
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(expected)
    assert np.isnan(spearman([1, 2], [1, 2]))


def test_latest_returns_the_newest_states_oldest_first_across_the_wrap():
    replay = ReplayBuffer(4, 1)
    for i in range(6):  # 0..5; the buffer keeps 2, 3, 4, 5
        replay.add(np.array([i]), 0, np.array([10 + i]), False)
    np.testing.assert_array_equal(replay.latest(3)[:, 0], [13, 14, 15])
    np.testing.assert_array_equal(replay.latest(9)[:, 0], [12, 13, 14, 15])


@pytest.mark.slow
def test_a_run_keeps_the_reward_free_choice_and_reports_it(tiny_clips, tmp_path):
    # GIVEN a tiny run evaluated at steps 120 and 240
    summary = train(tiny_config(tiny_clips, tmp_path / "run"))
    # THEN each evaluation row carries the criterion, and the kept checkpoint is the one
    # with the smallest distance (the later one on a tie)
    rows = list(csv.DictReader(open(tmp_path / "run" / "eval.csv")))
    distances = {int(r["step"]): float(r["state_match"]) for r in rows}
    chosen = summary["selection"]
    best = min(distances.values())
    assert chosen["step"] == max(s for s, d in distances.items() if d == best)
    assert chosen["state_match"] == pytest.approx(best)
    assert (tmp_path / "run" / "checkpoint_best" / "state.pt").is_file()
    assert np.isfinite(chosen["greedy_mean"]) and np.isfinite(chosen["sampled_mean"])
    saved = json.loads((tmp_path / "run" / "final.json").read_text())["selection"]
    assert saved["step"] == chosen["step"]
