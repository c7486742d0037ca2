"""Baselines (lfo.algorithms.methods): their losses on hand-computed numbers, each one learning the
tiny chain MDP, oracle labels aligned to the expert pairs, and the benchmark end to end.

The chain (lfo.testing.chain, the one the IQ tests use): 8 one-hot states, actions
left/stay/right, a 20-step limit; the expert walks right (return -7). A uniformly random
walker's mean return over 20 episodes is -19.6 +- 0.4 (300 seeds measured, best -18.05),
so "beats random" below means a sampled return of at least -12 (over 20 std above the
walker's mean, 6 returns above its best 20-episode mean) and a greedy policy that
walks right to the goal; every learner also starts as that walker (zero-initialised
output layers), which each test checks first.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_train import tiny_config

from lfo.algorithms.bc import bc_loss
from lfo.algorithms.gaifo import (
    Discriminator,
    discriminator_loss,
    gaifo_reward,
    input_gradient,
    soft_q_td_loss,
)
from lfo.algorithms.methods import METHODS, ORACLE_NOTE, build_learner, get_method
from lfo.algorithms.oracle import align_actions
from lfo.data.transitions import ExpertPairs, Transitions
from lfo.testing.chain import (
    ChainMDP,
    ChainRunConfig,
    chain_settings,
    evaluate,
    train_learner_on_chain,
)

ROOT = Path(__file__).resolve().parents[1]
L2, L3 = math.log(2), math.log(3)
MDP = ChainMDP(n=8, horizon=20)
EXPERT_RETURN = -7.0


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------- losses
def test_bc_loss_by_hand():
    # logits [[0, log 3], [log 2, 0]] -> pi = [[1/4, 3/4], [2/3, 1/3]]
    logits = torch.tensor([[0.0, L3], [L2, 0.0]])
    # hard labels [1, 1]: -log(3/4) = 0.287682, -log(1/3) = 1.098612; mean = log 2
    loss, d = bc_loss(logits, torch.tensor([1, 1]))
    assert float(loss) == pytest.approx(L2, abs=1e-6)
    assert d["bc_accuracy"] == 0.5  # row 2 prefers action 0
    # entropies H(1/4, 3/4) = 0.562335, H(2/3, 1/3) = 0.636514
    assert d["bc_entropy"] == pytest.approx((0.562335 + 0.636514) / 2, abs=1e-6)
    # soft labels [[1/2, 1/2], [1, 0]]: (log 4 - log(3/4)) / 2 = 0.836988; -log(2/3) = 0.405465
    soft, _ = bc_loss(logits, torch.tensor([[0.5, 0.5], [1.0, 0.0]]))
    assert float(soft) == pytest.approx((0.836988 + 0.405465) / 2, abs=1e-6)
    # one-hot soft labels are the hard loss
    one_hot, _ = bc_loss(logits, torch.tensor([[0.0, 1.0], [0.0, 1.0]]))
    assert float(one_hot) == pytest.approx(float(loss))


def test_discriminator_loss_by_hand():
    # expert logits [0, log 3]: -log sigmoid = [log 2, -log(3/4)] -> mean 0.490415
    # agent logits [0, -log 3]: -log(1 - sigmoid) = [log 2, -log(3/4)] -> mean 0.490415
    # grads [[1, 2], [0, 1]]: squared norms [5, 1] -> R1 = 3; weight 0.5 -> 1.5
    loss, d = discriminator_loss(torch.tensor([0.0, L3]), torch.tensor([0.0, -L3]),
                                 torch.tensor([[1.0, 2.0], [0.0, 1.0]]), gp_weight=0.5)
    assert float(loss) == pytest.approx(2 * 0.490415 + 1.5, abs=1e-5)
    assert d["disc_bce"] == pytest.approx(0.980829, abs=1e-5)
    assert d["disc_grad_penalty"] == pytest.approx(3.0)
    assert d["disc_expert"] == pytest.approx((0.5 + 0.75) / 2)
    assert d["disc_agent"] == pytest.approx((0.5 + 0.25) / 2)


def test_gradient_penalty_of_a_linear_discriminator_is_its_weight_norm():
    torch.manual_seed(0)
    disc = Discriminator(obs_dim=2, hidden=())  # f(x) = w . x + b
    w = disc.net[0].weight
    pairs = torch.randn(5, 4)
    logits, grad = input_gradient(disc, pairs)
    torch.testing.assert_close(grad, w.detach().expand(5, 4))
    loss, d = discriminator_loss(logits, logits, grad, gp_weight=1.0)
    assert d["disc_grad_penalty"] == pytest.approx(float((w.detach() ** 2).sum()), rel=1e-5)
    # the penalty is differentiable: d/dw of ||w||^2 is 2w (the BCE parts add the rest)
    penalty_grad = torch.autograd.grad(grad.pow(2).sum(1).mean(), w, retain_graph=True)[0]
    torch.testing.assert_close(penalty_grad, 2 * w.detach())


def test_gaifo_reward_is_the_logit():
    # D = 0.8: log D - log(1 - D) = log 4 = logit(0.8)
    d = torch.tensor([0.8, 0.5, 0.1])
    logit = torch.log(d / (1 - d))
    torch.testing.assert_close(gaifo_reward(logit), torch.log(d) - torch.log(1 - d))
    assert gaifo_reward(torch.tensor([5.0, -5.0, 0.3]), clip=1.0).tolist() == pytest.approx(
        [1.0, -1.0, 0.3])


def test_soft_q_td_loss_by_hand():
    # Q = [[1, 2], [0, 3]], actions [1, 0] -> Q(s, a) = [2, 0]; r = [1, -1];
    # V(s') = [2, 4], done = [0, 1], gamma = 1/2 -> targets [1 + 1, -1 + 0] = [2, -1]
    # errors [0, 1] -> loss 1/2
    q = torch.tensor([[1.0, 2.0], [0.0, 3.0]], requires_grad=True)
    loss, d = soft_q_td_loss(q, torch.tensor([1, 0]), torch.tensor([1.0, -1.0]),
                             torch.tensor([2.0, 4.0]), torch.tensor([0.0, 1.0]), gamma=0.5)
    assert loss.item() == pytest.approx(0.5)
    assert d["q_mean"] == pytest.approx(1.0) and d["td_abs"] == pytest.approx(0.5)
    loss.backward()  # only the taken actions move: d/dQ(s,a) = 2 * error / N
    assert q.grad.tolist() == [[0.0, 0.0], [1.0, 0.0]]


# ----------------------------------------------------------------------------- registry
def test_registry_labels_oracles_and_rejects_unknown_names():
    assert set(METHODS) == {"iq-idm", "iq-state-only", "bco", "gaifo", "oracle-iq", "oracle-bc"}
    oracles = {n for n, m in METHODS.items() if m.uses_expert_actions}
    assert oracles == {"oracle-iq", "oracle-bc"}
    assert all(ORACLE_NOTE in METHODS[n].label for n in oracles)
    assert not get_method("oracle-bc").interacts and get_method("bco").interacts
    with pytest.raises(ValueError, match="unknown method"):
        get_method("gail")
    with pytest.raises(ValueError, match="unknown option"):
        build_learner("gaifo", chain_settings(MDP), options={"gp": 1.0})


@pytest.mark.parametrize("name", sorted(METHODS))
def test_save_and_load_restore_the_policy(name, tmp_path):
    learner = build_learner(name, chain_settings(MDP, seed=0))
    m = train_learner_on_chain(MDP, learner, ChainRunConfig(env_steps=80, warmup=20))
    assert all(np.isfinite(v) for v in m.values())
    learner.save(tmp_path)
    fresh = build_learner(name, chain_settings(MDP, seed=1))
    fresh.load(tmp_path)
    feats = MDP.features(np.arange(MDP.n))
    assert np.array_equal(fresh.act(feats, greedy=True), learner.act(feats, greedy=True))
    # the sampling generator is restored too: the same draws follow
    assert np.array_equal(fresh.act(feats), learner.act(feats))


@pytest.mark.parametrize("name", sorted(METHODS))
def test_a_learning_rate_schedule_reaches_every_optimiser_and_survives_a_checkpoint(
        name, tmp_path):
    learner = build_learner(name, chain_settings(MDP, seed=0))
    optimisers = learner.optimizers()
    # iq-idm and bco: their IDM's optimiser too; gaifo: the discriminator's
    assert len(optimisers) == {"iq-idm": 2, "bco": 2, "gaifo": 2}.get(name, 1)
    start = [g["lr"] for o in optimisers for g in o.param_groups]
    learner.scale_learning_rates(0.5)
    learner.scale_learning_rates(0.25)  # a factor of the start, not of the last value
    assert [g["lr"] for o in optimisers for g in o.param_groups] == pytest.approx(
        [0.25 * lr for lr in start])
    train_learner_on_chain(MDP, learner, ChainRunConfig(env_steps=40, warmup=20))
    learner.save(tmp_path)
    fresh = build_learner(name, chain_settings(MDP, seed=1))
    fresh.load(tmp_path)
    fresh.scale_learning_rates(1.0)
    assert [g["lr"] for o in fresh.optimizers() for g in o.param_groups] == pytest.approx(start)


# ----------------------------------------------------------------------------- the chain
CHAIN_CASES = {
    "bco": (800, None),
    "gaifo": (800, {"disc_hidden": (32,), "gp_weight": 0.1, "disc_lr": 3e-3}),
    "oracle-bc": (300, None),  # offline: 300 updates, no env step
    "oracle-iq": (600, None),
}


@pytest.mark.parametrize("name", sorted(CHAIN_CASES))
def test_baseline_beats_a_random_walker_on_the_chain(name):
    steps, options = CHAIN_CASES[name]
    torch.manual_seed(0)
    learner = build_learner(name, chain_settings(MDP, seed=0), options=options)
    # GIVEN a learner that starts as the uniformly random walker
    assert evaluate(learner, MDP, greedy=False, episodes=20, seed=99) < -18
    # WHEN it learns from the expert's state pairs (+ its own play; oracles: + actions)
    m = train_learner_on_chain(MDP, learner, ChainRunConfig(env_steps=steps, warmup=50))
    # THEN it walks to the goal
    assert m["return_sampled"] >= -12.0, m
    assert m["return_greedy"] == EXPERT_RETURN and m["greedy_right_frac"] == 1.0, m


def test_bco_labels_come_from_its_own_inverse_dynamics_not_the_expert():
    learner = build_learner("bco", chain_settings(MDP, seed=0))
    assert not learner.uses_expert_actions
    m = train_learner_on_chain(MDP, learner, ChainRunConfig(env_steps=300, warmup=50))
    assert m["idm_accuracy"] > 0.8  # the IDM learned from the agent's own transitions


# ----------------------------------------------------------------------------- oracle labels
def test_oracle_actions_align_with_expert_pairs():
    # three clips of 4, 1 and 3 frames; frame t of clip i has feature (i, t)
    feats = [np.array([[i, t] for t in range(n)], np.float32) for i, n in enumerate([4, 1, 3])]
    actions = [np.array([10, 11, 12]), np.array([], np.int64), np.array([20, 21])]
    pairs = ExpertPairs.from_clips(feats)
    labelled = pairs.with_actions(align_actions(actions, [4, 1, 3], ["a", "b", "c"]))
    # pair (z_t, z_t+1) of clip i carries a_t of clip i (clip b has no pair)
    expected = [int(actions[int(i)][int(t)]) for i, t in pairs.obs]
    assert labelled.action.tolist() == expected == [10, 11, 12, 20, 21]
    batch = labelled.sample(4, np.random.default_rng(0))
    assert isinstance(batch, Transitions) and batch.action is not None
    assert pairs.sample(4, np.random.default_rng(0)).action is None
    with pytest.raises(ValueError, match="c: 3 frames but 3 recorded actions"):
        align_actions([np.zeros(3), np.zeros(0), np.zeros(3)], [4, 1, 3], ["a", "b", "c"])


def test_oracle_actions_with_an_action_repeat_take_each_blocks_most_frequent_action():
    # 9 recorded steps decoded at 1/3 of the rate: frames 0, 3, 6 (the decoder may or may not
    # keep frame 9), pairs span steps 0-2, 3-5 (and 6-8)
    actions = [np.array([1, 1, 0, 2, 3, 3, 4, 4, 4])]
    assert align_actions(actions, [3], ["a"], repeat=3).tolist() == [1, 3]
    assert align_actions(actions, [4], ["a"], repeat=3).tolist() == [1, 3, 4]
    with pytest.raises(ValueError, match="a: 6 frames"):
        align_actions(actions, [6], ["a"], repeat=3)


def test_trainer_gives_actions_to_oracles_only(tiny_clips, tmp_path, monkeypatch):  # noqa: F811
    from lfo.demonstrations.labels import read_expert_actions
    from lfo.loop.trainer import Trainer

    oracle = Trainer(tiny_config(tiny_clips, tmp_path / "o", method="oracle-bc"))
    recorded = np.concatenate([read_expert_actions(c.path) for c in oracle.folder.clips])
    assert np.array_equal(oracle.expert.action, recorded)
    # state-only methods build and never touch lfo.demonstrations.labels
    monkeypatch.setitem(sys.modules, "lfo.demonstrations.labels", None)
    for method in ("bco", "gaifo", "iq-idm"):
        trainer = Trainer(tiny_config(tiny_clips, tmp_path / method, method=method))
        assert trainer.expert.action is None
    with pytest.raises(ImportError):
        Trainer(tiny_config(tiny_clips, tmp_path / "o2", method="oracle-iq"))


# ----------------------------------------------------------------------------- benchmark
def _benchmark_script():
    path = ROOT / "scripts" / "benchmark.py"
    spec = importlib.util.spec_from_file_location("benchmark_cli", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_benchmark_script_writes_table_plot_and_json(tiny_clips, tmp_path):  # noqa: F811
    out, js = tmp_path / "bench", tmp_path / "bench.json"
    argv = ["--env", "carracing", "--videos", str(tiny_clips), "--methods", "gaifo", "oracle-bc",
            "--seeds", "0", "1", "--steps", "100", "--out", str(out), "--json", str(js),
            "--no-progress", "--run.eval-every", "50", "--run.learning-starts", "50",
            "--run.batch-size", "16", "--run.learner.hidden", "16", "--run.eval-episodes", "1",
            "--run.final-eval-episodes", "1", "--run.random-episodes", "1",
            "--run.max-episode-steps", "25", "--run.checkpoint-every", "50",
            "--run.encoder", "pixels-carracing"]
    assert _benchmark_script().main(argv) == 0
    table = (out / "results.md").read_text()
    assert "| gaifo | 2 |" in table and f"oracle-bc [{ORACLE_NOTE}] | 2 |" in table
    assert "0 (offline: 100 updates)" in table and "| 100 |" in table  # gaifo env steps
    assert "random policy (floor" in table and "expert (returns recorded" in table
    assert "python scripts/benchmark.py --env carracing" in table
    png = out / "learning_curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert js.with_suffix(".md").read_text() == table  # committed copies beside the JSON
    assert js.with_suffix(".png").read_bytes() == png.read_bytes()
    data = json.loads(js.read_text())
    assert [(r["method"], r["seed"]) for r in data["runs"]] == [
        ("gaifo", 0), ("gaifo", 1), ("oracle-bc", 0), ("oracle-bc", 1)]
    assert all(len(r["curve"]) == 2 for r in data["runs"])  # evals at 50 and 100
    gaifo, bc = data["summary"]
    assert gaifo["env_steps"] == 100 and bc["env_steps"] == 0 and bc["uses_expert_actions"]
    # a second call reuses the finished runs instead of training again
    final = out / "gaifo-s0" / "final.json"
    before = final.stat().st_mtime_ns
    assert _benchmark_script().main(argv) == 0
    assert final.stat().st_mtime_ns == before


def test_interquartile_mean_and_bootstrap_interval_by_hand():
    from lfo.analysis.benchmark import bootstrap_ci, interquartile_mean

    # 8 values: 2 cut from each end -> mean of 3, 4, 5, 6 (the outlier 100 is ignored)
    assert interquartile_mean([1, 2, 3, 4, 100, 5, 6, 7]) == pytest.approx(4.5)
    assert interquartile_mean([0.2, 0.4, 0.9]) == pytest.approx(0.5)  # 3 seeds: the mean
    assert np.isnan(interquartile_mean([]))
    low, high = bootstrap_ci([0.2, 0.4, 0.9])
    assert 0.2 <= low <= 0.5 <= high <= 0.9
    assert bootstrap_ci([0.7, 0.7, 0.7]) == (pytest.approx(0.7), pytest.approx(0.7))


def test_benchmark_on_a_folder_without_clips_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--env", "carracing",
         "--methods", "bco", "--seeds", "0", "--videos", str(tmp_path / "nothing"),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
