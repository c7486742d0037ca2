"""The learning-from-video trainer end to end on tiny clips (a smoke run, not a benchmark)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from lfo.algorithms.exploration import EzGreedy
from lfo.algorithms.learner import LearnerSettings
from lfo.envs.games import get_game
from lfo.loop.checkpoint import read_state
from lfo.loop.config import TrainConfig, load_run_config
from lfo.loop.trainer import Trainer, TrainingDiverged, TrainingInterrupted, train

ROOT = Path(__file__).resolve().parents[1]


def tiny_config(videos: Path, out: Path, **overrides) -> TrainConfig:
    base = dict(
        videos=str(videos), out=str(out), steps=240, learning_starts=80, batch_size=32,
        learner=LearnerSettings(hidden=(32,)), eval_every=120, eval_episodes=1,
        final_eval_episodes=1, random_episodes=1, checkpoint_every=80, max_episode_steps=40,
        log_every=40,
        progress=False, encoder="pixels-carracing",
        # one env, one update per step: the step-by-step loop these tests pin down (the
        # vector loop's own tests are in test_vector_loop.py)
        num_envs=1, train_frequency=1, vectorization="sync",
    )
    return TrainConfig(**{**base, **overrides})


def test_smoke_run_writes_checkpoint_logs_and_plots(tiny_clips, tmp_path):
    summary = train(tiny_config(tiny_clips, tmp_path / "run"))
    run = tmp_path / "run"
    for name in ("config.json", "metrics.csv", "eval.csv", "final.json", "learning_curve.png",
                 "agent.mp4", "expert_reward.png", "checkpoint/agent.pt",
                 "checkpoint/idm.pt", "checkpoint/state.pt"):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert summary["steps"] == 240 and summary["game"] == "carracing"
    assert np.isfinite(summary["greedy_mean"]) and np.isfinite(summary["expert_return"])
    eval_rows = (run / "eval.csv").read_text().splitlines()
    assert len(eval_rows) == 1 + 2  # header + evals at 120 and 240
    config = json.loads((run / "config.json").read_text())
    assert config["game"] == "carracing" and config["encoder_id"]


@pytest.mark.slow
def test_resume_continues_at_the_checkpointed_step_with_the_same_replay(
    tiny_clips, tmp_path, monkeypatch
):
    straight = Trainer(tiny_config(tiny_clips, tmp_path / "straight", steps=160))
    straight.run()

    cfg = tiny_config(tiny_clips, tmp_path / "cut", steps=160)
    original_update = Trainer.update

    def killed_at_130(self):
        if self.step == 130:
            raise SystemExit(137)  # a hard kill between checkpoints (last one at 80)
        return original_update(self)

    monkeypatch.setattr(Trainer, "update", killed_at_130)
    with pytest.raises(SystemExit):
        Trainer(cfg).run()
    monkeypatch.setattr(Trainer, "update", original_update)

    resumed = Trainer(load_run_config(tmp_path / "cut", steps=160, progress=False))
    resumed.load_checkpoint()
    assert resumed.step == 80 and len(resumed.replay) == 80
    # the first 80 transitions are exactly those of the uninterrupted run
    np.testing.assert_array_equal(resumed.replay.obs[:80], straight.replay.obs[:80])
    np.testing.assert_array_equal(resumed.replay.action[:80], straight.replay.action[:80])
    summary = Trainer(load_run_config(tmp_path / "cut", steps=160, progress=False)).run(
        resume=True
    )
    assert summary["steps"] == 160


@pytest.mark.slow
def test_a_finished_run_can_be_extended_with_more_steps(tiny_clips, tmp_path):
    """``--resume --steps N`` with N above the saved budget continues a finished run."""
    Trainer(tiny_config(tiny_clips, tmp_path / "run", steps=160)).run()
    longer = Trainer(load_run_config(tmp_path / "run", steps=240, progress=False))
    longer.load_checkpoint()
    assert longer.step == 160 and len(longer.replay) == 160 and longer.replay.capacity == 240
    summary = longer.run(resume=True)
    assert summary["steps"] == 240 and len(longer.replay) == 240


@pytest.mark.slow
def test_ez_greedy_drives_play_after_warm_up_and_its_state_is_checkpointed(tiny_clips, tmp_path):
    """At epsilon 1 every post-warm-up action is a held random one (the learner never picks
    the action); the explorer's generator is saved and restored with the run."""
    trainer = Trainer(tiny_config(tiny_clips, tmp_path / "run", steps=120,
                                  explore_epsilon=1.0, explore_mean_hold=4.0))
    explorer, calls = trainer.ez_greedy[0], {"decisions": 0, "learner": 0}

    class Spy:  # counts the training-play decisions and how many the learner made
        def __call__(self, learner_action):
            calls["decisions"] += 1
            return explorer(lambda: calls.__setitem__("learner", calls["learner"] + 1)
                            or learner_action())

        def __getattr__(self, name):
            return getattr(explorer, name)

    trainer.ez_greedy = [Spy()]
    fresh = EzGreedy(5, 1.0, 4.0, seed=(0, 2)).rng.bit_generator.state
    trainer.run()
    assert calls == {"decisions": 120 - 80, "learner": 0}
    actions = trainer.replay.action[80:120]
    assert np.mean(actions[1:] != actions[:-1]) < 0.5  # held, not per-step draws
    assert explorer.rng.bit_generator.state != fresh
    resumed = Trainer(load_run_config(tmp_path / "run", progress=False))
    resumed.load_checkpoint()
    assert resumed.ez_greedy[0].rng.bit_generator.state == explorer.rng.bit_generator.state


@pytest.mark.slow
def test_label_audit_reads_a_finished_run(tiny_clips, tmp_path):
    """The evaluation-only audit compares the run's IDM labels and greedy actions with the
    recorded actions on every expert pair."""
    from lfo.analysis.label_audit import audit_run

    Trainer(tiny_config(tiny_clips, tmp_path / "run", steps=120)).run()
    result = audit_run(tmp_path / "run")
    assert result["step"] == 120 and result["pairs"] == 2 * 60
    for name in ("idm", "policy_greedy"):
        counts = np.array(result[name]["confusion"])
        assert counts.shape == (5, 5) and counts.sum() == 120
        assert result[name]["accuracy"] == pytest.approx(np.trace(counts) / 120)


@pytest.mark.slow
def test_action_repeat_decodes_the_clips_at_the_agents_rate(tiny_clips, tmp_path):
    """With --action-repeat 2 an expert pair spans two recorded steps, like one agent step."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = Trainer(tiny_config(tiny_clips, tmp_path / "run", steps=80, action_repeat=2))
    # 50 fps clips for a 25 Hz agent: on purpose, no resampling warning (the tiny clips are
    # capped episodes, which is warned about)
    assert not [w for w in caught if "resampled" in str(w.message)]
    assert [w for w in caught if "capped or partial" in str(w.message)]
    envs = trainer.make_envs()
    assert trainer.control_hz == 25.0 and envs.envs[0].metadata["control_hz"] == 25.0
    envs.close()
    assert len(trainer.expert) == 2 * (30 - 1)  # 61 frames at 50 Hz -> 30 at 25 Hz, per clip
    summary = trainer.run()
    assert summary["steps"] == 80 and summary["env_steps"] == 160
    assert json.loads((tmp_path / "run" / "config.json").read_text())["action_repeat"] == 2
    from lfo.analysis.label_audit import audit_run  # evaluation only: one label per 2-step block

    assert np.array(audit_run(tmp_path / "run")["idm"]["confusion"]).sum() == 2 * (30 - 1)


@pytest.mark.slow
def test_corrupt_checkpoint_is_a_clear_error(tiny_clips, tmp_path):
    cfg = tiny_config(tiny_clips, tmp_path / "run", steps=100)
    train(cfg)
    (tmp_path / "run" / "checkpoint" / "state.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="cannot resume"):
        Trainer(load_run_config(tmp_path / "run", steps=200)).load_checkpoint()


def test_non_finite_loss_stops_with_a_clear_message_and_keeps_the_checkpoint(
    tiny_clips, tmp_path, monkeypatch
):
    from lfo.algorithms.agent import SoftQAgent

    original = SoftQAgent.update

    def nan_after_100(self, expert, agent):
        logs = original(self, expert, agent)
        return {**logs, "loss": float("nan")} if self.updates > 100 - 80 + 5 else logs

    monkeypatch.setattr(SoftQAgent, "update", nan_after_100)
    with pytest.raises(TrainingDiverged, match="non-finite"):
        train(tiny_config(tiny_clips, tmp_path / "run", steps=200))
    state = read_state(tmp_path / "run" / "checkpoint")
    assert state["step"] == 80  # the last good checkpoint survives


@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["pixels-carracing", "default-carracing"])
def test_learning_from_video_never_reads_the_expert_actions(tiny_clips, tmp_path, encoder):
    """Train with lfo.demonstrations.labels unimportable, and again with every sidecar deleted:
    with the
    raw-pixel encoder and with the shipped state estimator (the default)."""
    from encoders.registry import default_weights

    if encoder.startswith("default") and not default_weights("carracing").is_file():
        pytest.skip("default-carracing weights not shipped")
    config = dataclasses.asdict(tiny_config(tiny_clips, tmp_path / "a", steps=100,
                                            encoder=encoder))
    code = (
        # any import of the labels reader now fails
        "import sys; sys.modules['lfo.demonstrations.labels'] = None\n"
        "from lfo.loop.trainer import train\n"
        "from lfo.loop.config import config_from_dict\n"
        f"train(config_from_dict({config!r}))\n"
        "assert sys.modules['lfo.demonstrations.labels'] is None\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]

    from lfo.data.video import scan_folder
    from lfo.demonstrations.clips import infer_game

    bare = tmp_path / "bare"
    bare.mkdir()
    for clip in tiny_clips.glob("*.mp4"):
        (bare / clip.name).write_bytes(clip.read_bytes())
    assert not list(bare.glob("*.json"))
    assert infer_game(scan_folder(bare), None) == "carracing"  # without sidecars: the pictures
    summary = train(tiny_config(bare, tmp_path / "b", steps=100, env="carracing",
                                encoder=encoder))
    assert summary["steps"] == 100 and np.isnan(summary["expert_return"])


def test_cli_reports_a_folder_without_clips_in_one_line(tmp_path):
    (tmp_path / "notes.mp4").write_text("not a video")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_lfo.py"), "--videos", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no decodable video" in result.stderr and "notes.mp4" in result.stderr


def test_clips_and_live_frames_go_through_the_encoders_own_view(tiny_clips, tmp_path):
    """An encoder trained on another view (here the object mask) gets that view for the
    clips *and* for the agent's env, not the game's default."""
    from dataclasses import replace

    from encoders.registry import build_conv, save_checkpoint
    from lfo.envs.games import get_game

    view = replace(get_game("carracing").preprocess, objects=16)
    encoder = build_conv("carracing", preprocess=view)
    ckpt = save_checkpoint(tmp_path / "objects.pt", encoder, game="carracing", preprocess=view)
    trainer = Trainer(tiny_config(tiny_clips, tmp_path / "run", encoder=str(ckpt)))
    assert trainer.view == view
    envs = trainer.make_envs()
    obs, _ = envs.reset(seed=0)
    envs.close()
    assert set(np.unique(obs)) <= {0, 255}  # the live frames are object masks too
    default = Trainer(tiny_config(tiny_clips, tmp_path / "run2"))
    assert default.view == get_game("carracing").preprocess


@pytest.mark.slow
def test_privileged_state_run_is_marked_and_reads_the_simulator(tiny_clips, tmp_path):
    """--encoder state-carracing: expert pairs are the replayed simulator states, the agent
    observes the state vector, and every output says the run is privileged."""
    from lfo.demonstrations.privileged_clips import clip_states
    from lfo.envs.privileged import CARRACING_STATE_NAMES

    trainer = Trainer(tiny_config(tiny_clips, tmp_path / "priv", encoder="state-carracing",
                                  steps=120, eval_every=120))
    assert trainer.privileged and trainer.expert.obs.shape[1] == len(CARRACING_STATE_NAMES)
    states, _ = clip_states(sorted(tiny_clips.glob("*.mp4"))[0], "carracing")
    # the first expert pair is the first clip's first two states, normalised
    assert np.allclose(trainer.expert.obs[0], trainer.normalizer(states[0]), atol=1e-5)
    envs = trainer.make_envs()
    obs, _ = envs.reset(seed=0)
    envs.close()
    assert obs.shape == (1, len(CARRACING_STATE_NAMES))
    summary = trainer.run()
    assert summary["privileged_state"] and "PRIVILEGED" in summary["method_label"]
    assert summary["encoder"] == "state-carracing"


@pytest.mark.slow
def test_an_encoder_for_another_game_is_refused_in_one_line(tiny_clips, tmp_path):
    from encoders.base import EncoderError

    with pytest.raises(EncoderError, match="made for pong, not carracing"):
        Trainer(tiny_config(tiny_clips, tmp_path / "x", encoder="default-atari"))
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_lfo.py"), "--videos", str(tiny_clips),
         "--encoder", "default-atari", "--out", str(tmp_path / "y")],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "made for pong, not carracing" in result.stderr


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(tiny_clips, tmp_path, monkeypatch):
    cfg = tiny_config(tiny_clips, tmp_path / "run", steps=160)
    original_update = Trainer.update

    def ctrl_c_at_130(self):
        if self.step == 130:
            raise KeyboardInterrupt
        return original_update(self)

    monkeypatch.setattr(Trainer, "update", ctrl_c_at_130)
    with pytest.raises(TrainingInterrupted, match=r"--out .*run --resume"):
        Trainer(cfg).run()
    monkeypatch.setattr(Trainer, "update", original_update)
    state = read_state(tmp_path / "run" / "checkpoint")
    assert state["step"] == 130  # saved at the interrupt, not the last periodic one (80)
    summary = train(load_run_config(tmp_path / "run", progress=False))
    assert summary["steps"] == 160  # the run's own budget: no --steps needed
    steps = [int(r.split(",")[0]) for r in (tmp_path / "run" / "metrics.csv").read_text()
             .splitlines()[1:]]
    assert steps == sorted(set(steps))  # no row logged twice across the resume


@pytest.mark.slow
def test_a_new_run_refuses_a_folder_that_holds_one_unless_forced(tiny_clips, tmp_path):
    from lfo.loop.trainer import RunFolderExists

    train(tiny_config(tiny_clips, tmp_path / "run", steps=90, eval_every=90))
    with pytest.raises(RunFolderExists, match="--resume.*--force"):
        train(tiny_config(tiny_clips, tmp_path / "run", steps=90, eval_every=90))
    summary = train(tiny_config(tiny_clips, tmp_path / "run", steps=100, eval_every=100,
                                force=True))
    assert summary["steps"] == 100


@pytest.mark.slow
def test_first_checkpoint_comes_early_and_warmup_draws_survive_resume(tiny_clips, tmp_path):
    cfg = tiny_config(tiny_clips, tmp_path / "run", steps=60, learning_starts=200,
                      checkpoint_every=10_000, first_checkpoint=30, eval_every=60,
                      explore_mean_hold=4.0)
    trainer = Trainer(cfg)
    trainer.run()
    state = read_state(tmp_path / "run" / "checkpoint")
    assert state["step"] == 60 and "warmup" in state
    # a run cut at the first checkpoint resumes with the warm-up generator where it was
    cut = Trainer(tiny_config(tiny_clips, tmp_path / "cut", steps=30, learning_starts=200,
                              checkpoint_every=10_000, first_checkpoint=30, eval_every=30,
                              explore_mean_hold=4.0))
    cut.run()
    resumed = Trainer(load_run_config(tmp_path / "cut", steps=60, progress=False))
    resumed.load_checkpoint()
    assert resumed.warmup[0].rng.bit_generator.state == cut.warmup[0].rng.bit_generator.state


def test_random_floor_is_measured_in_the_agents_world(tiny_clips, tmp_path, monkeypatch):
    import lfo.loop.trainer as train_module

    seen = {}

    def spy(game, policy, seeds, **kw):
        seen.update(kw)
        return train_module.EvalResult("random", [])

    monkeypatch.setattr(train_module, "evaluate", spy)
    trainer = Trainer(tiny_config(tiny_clips, tmp_path / "run", action_repeat=2))
    trainer.measure_random()
    assert seen["env_options"] == {"action_repeat": 2}


def test_game_comes_from_the_sidecars_env_id_and_a_wrong_env_is_refused(tiny_clips, tmp_path):
    from lfo.data.video import scan_folder
    from lfo.demonstrations.clips import infer_game

    folder = scan_folder(tiny_clips)
    assert infer_game(folder, None, [{"env_id": "CarRacing-v3"}] * len(folder)) == "carracing"
    with pytest.raises(ValueError, match="shows carracing .*, but --env says pong"):
        infer_game(folder, "pong")


@pytest.mark.slow
def test_cli_warnings_are_one_line_and_resume_without_a_run_is_one_line(tiny_clips, tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_lfo.py"), "--videos", str(tiny_clips),
         "--encoder", "pixels-carracing", "--steps", "60", "--learning-starts", "30",
         "--eval-every", "60", "--eval-episodes", "1", "--final-eval-episodes", "1",
         "--random-episodes", "1", "--max-episode-steps", "20", "--learner.hidden", "16",
         "--batch-size", "16", "--out", str(tmp_path / "run"), "--no-progress"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    warning_lines = [ln for ln in result.stderr.splitlines() if "capped or partial" in ln]
    assert warning_lines and all(ln.startswith("warning: ") for ln in warning_lines)
    assert "warnings.warn" not in result.stderr and "UserWarning" not in result.stderr
    assert f"run folder: {tmp_path / 'run'}" in result.stdout + result.stderr
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_lfo.py"), "--videos", str(tiny_clips),
         "--out", str(tmp_path / "nothing"), "--resume"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot resume" in result.stderr


@pytest.mark.slow
def test_same_seed_gives_the_same_metrics(tiny_clips, tmp_path):
    """End-to-end determinism: two runs with one seed log the same losses and returns."""
    import csv

    def table(run: Path, name: str) -> list[dict]:
        with open(run / name, newline="") as f:
            return [{k: v for k, v in row.items() if k != "steps_per_s"}
                    for row in csv.DictReader(f)]

    for name in ("a", "b"):
        train(tiny_config(tiny_clips, tmp_path / name, steps=120, eval_every=120,
                          checkpoint_every=10_000))
    assert table(tmp_path / "a", "metrics.csv") == table(tmp_path / "b", "metrics.csv")
    assert table(tmp_path / "a", "eval.csv") == table(tmp_path / "b", "eval.csv")
    other = train(tiny_config(tiny_clips, tmp_path / "c", steps=120, eval_every=120, seed=1,
                              checkpoint_every=10_000))
    assert table(tmp_path / "c", "metrics.csv") != table(tmp_path / "a", "metrics.csv")
    assert other["steps"] == 120


def test_expert_return_says_when_no_sidecar_records_one(clip_factory, tmp_path):
    from lfo.data.video import scan_folder
    from lfo.demonstrations.clips import expert_return

    clip_factory("bare/a.mp4", n=10)
    folder = scan_folder(tmp_path / "bare")
    with pytest.warns(UserWarning, match="no sidecar .* records the expert's return"):
        assert np.isnan(expert_return(folder))
    (tmp_path / "bare" / "a.json").write_text(json.dumps(
        {"return": 12.5, "env_id": "CarRacing-v3", "length": 1000, "terminated": True}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a full episode with a return: no warning
        assert expert_return(scan_folder(tmp_path / "bare")) == 12.5



def test_budget_defaults_to_the_games_own(tiny_clips, tmp_path):
    from lfo.envs.games import get_game

    assert get_game("pong").train_steps > get_game("carracing").train_steps
    trainer = Trainer(tiny_config(tiny_clips, tmp_path / "run", steps=None))
    assert trainer.cfg.steps == get_game("carracing").train_steps  # resolved, then saved
    assert trainer.replay.capacity == min(trainer.cfg.buffer_size, trainer.cfg.steps)


def test_learner_settings_left_unset_take_the_games_defaults(tiny_clips, tmp_path):
    from lfo.envs.games import get_game
    from lfo.loop.config import config_from_dict
    from lfo.loop.trainer import with_game_learner_defaults

    unset = tiny_config(tiny_clips, tmp_path / "run")
    assert unset.learner.absorbing is None
    # Atari: a lost game enters the absorbing state; CarRacing (a finished lap is
    # terminal too, and the clips carry no terminals) keeps V(terminal) = 0
    assert with_game_learner_defaults(unset, get_game("pong")).learner.absorbing is True
    assert with_game_learner_defaults(unset, get_game("breakout")).learner.absorbing is True
    assert with_game_learner_defaults(unset, get_game("carracing")).learner.absorbing is False
    # CarRacing's learning rates fall to a tenth by the end; the Atari games keep them
    assert with_game_learner_defaults(unset, get_game("carracing")).learner.lr_end_fraction == 0.1
    assert with_game_learner_defaults(unset, get_game("pong")).learner.lr_end_fraction == 1.0
    assert with_game_learner_defaults(unset,
                                      get_game("breakout")).learner.lr_end_fraction == 0.1
    # Breakout clips its normalised features (its rare "no ball" flag); the others do not
    assert [get_game(g).feature_clip for g in ("carracing", "pong", "breakout")] == [0, 0, 5]
    chosen = dataclasses.replace(unset, learner=dataclasses.replace(unset.learner,
                                                                    absorbing=False,
                                                                    lr_end_fraction=0.5))
    assert with_game_learner_defaults(chosen, get_game("pong")).learner.absorbing is False
    assert with_game_learner_defaults(chosen, get_game("carracing")).learner.lr_end_fraction == 0.5
    # the trainer resolves it, builds the learner with it and config.json records it
    trainer = Trainer(unset)
    assert trainer.cfg.learner.absorbing is False
    assert trainer.learner.agent.config.absorbing is False
    trainer.out.mkdir(parents=True, exist_ok=True)
    trainer._write_config()
    saved = json.loads((trainer.out / "config.json").read_text())
    assert saved["learner"]["absorbing"] is False and saved["learner"]["lr_end_fraction"] == 0.1
    # a config.json saved before the settings existed resumes as it ran (without them)
    old = config_from_dict({"videos": "v", "game": "carracing", "learner": {}}).learner
    assert old.absorbing is False and old.lr_end_fraction == 1.0


def test_max_clips_learns_from_the_first_clips_and_keeps_the_folders_score_scale(
        tiny_clips, tmp_path):
    from lfo.data.video import scan_folder
    from lfo.demonstrations.clips import expert_return

    every = Trainer(tiny_config(tiny_clips, tmp_path / "all"))
    one = Trainer(tiny_config(tiny_clips, tmp_path / "one", max_clips=1))
    assert len(every.folder.clips) == 2 and [c.path for c in one.folder.clips] == [
        every.folder.clips[0].path]
    # the expert pairs come from the first clip alone: T - 1 pairs of its features
    assert len(one.expert) == len(one.expert_clip) - 1 < len(every.expert)
    # the 1.0 of the score is the whole folder's expert, the same for both runs
    whole = expert_return(scan_folder(tiny_clips))
    assert one.expert_return == every.expert_return == pytest.approx(whole)
    one.out.mkdir(parents=True, exist_ok=True)
    one._write_config()
    saved = json.loads((one.out / "config.json").read_text())
    assert saved["max_clips"] == 1 and saved["clips"] == [str(one.folder.clips[0].path)]


@pytest.mark.parametrize("n, message", [(0, "at least 1"), (3, "more clips than")])
def test_max_clips_outside_the_folder_is_refused_in_one_line(tiny_clips, tmp_path, n, message):
    result = subprocess.run(
        [sys.executable, "-m", "lfo.cli.train_lfo", "--videos", str(tiny_clips), "--out",
         str(tmp_path / "run"), "--max-clips", str(n), "--no-progress"],
        capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: --max-clips")
    assert message in result.stderr and not (tmp_path / "run").exists()


def test_learning_rates_decay_linearly_to_the_end_fraction(tiny_clips, tmp_path):
    settings = LearnerSettings(hidden=(32,), lr=1e-3, idm_lr=2e-3, lr_end_fraction=0.1)
    trainer = Trainer(tiny_config(tiny_clips, tmp_path / "run", learner=settings))
    cfg = trainer.cfg
    trainer.step = cfg.learning_starts
    assert trainer.learning_rate_scale() == 1.0
    trainer.step = (cfg.learning_starts + cfg.steps) // 2
    assert trainer.learning_rate_scale() == pytest.approx(0.55)
    trainer.step = 0
    trainer.run()
    # the last update came one step before the end of the budget: about a tenth of each
    assert trainer.learner.agent.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4, rel=0.1)
    assert trainer.learner.idm.optimizer.param_groups[0]["lr"] == pytest.approx(2e-4, rel=0.1)
    constant = Trainer(tiny_config(tiny_clips, tmp_path / "constant", steps=120,
                                   learner=LearnerSettings(hidden=(32,), lr_end_fraction=1.0)))
    constant.run()
    assert constant.learner.agent.optimizer.param_groups[0]["lr"] == 3e-4
    with pytest.raises(ValueError, match="lr-end-fraction"):
        Trainer(tiny_config(tiny_clips, tmp_path / "bad",
                            learner=LearnerSettings(lr_end_fraction=-0.5)))


def test_the_feature_clip_bounds_rare_values_and_survives_a_resume(tiny_clips, tmp_path):
    from lfo.loop.config import config_from_dict
    from lfo.loop.policy import FeatureNormalizer

    # a flag that is 1 in 999 of 1,000 rows: its rare 0 is -31.6 standard deviations away
    flag = np.ones((1000, 1), np.float32)
    flag[0] = 0.0
    plain, clipped = FeatureNormalizer.fit(flag), FeatureNormalizer.fit(flag, clip=5.0)
    assert plain(flag[:1])[0, 0] == pytest.approx(-31.6, abs=0.1)
    assert clipped(flag[:1])[0, 0] == -5.0
    assert clipped(flag[1:2])[0, 0] == pytest.approx(plain(flag[1:2])[0, 0])  # inside: equal
    with pytest.raises(ValueError, match="feature clip"):
        FeatureNormalizer.fit(flag, clip=-1.0)
    # the run resolves the game's default, records it, and its checkpoint keeps it
    trainer = Trainer(tiny_config(tiny_clips, tmp_path / "run", steps=100, feature_clip=3.0))
    trainer.run()
    assert json.loads((trainer.out / "config.json").read_text())["feature_clip"] == 3.0
    assert float(np.abs(trainer.expert.obs).max()) <= 3.0
    resumed = Trainer(load_run_config(trainer.out, progress=False))
    resumed.load_checkpoint()
    assert resumed.normalizer.clip == 3.0
    assert Trainer(tiny_config(tiny_clips, tmp_path / "default")).cfg.feature_clip == (
        get_game("carracing").feature_clip)
    # a config.json from before the setting resumes without a clip
    assert config_from_dict({"videos": "v", "game": "carracing"}).feature_clip == 0.0


def test_exploration_left_unset_is_the_games_and_old_configs_keep_theirs(tiny_clips, tmp_path):
    from lfo.loop.config import config_from_dict

    # CarRacing explores after the warm-up (ez-greedy 0.05, holds of ~5 steps); Atari not
    assert [(get_game(g).explore_epsilon, get_game(g).explore_mean_hold)
            for g in ("carracing", "pong", "breakout")] == [(0.05, 5.0), (0.0, 1.0), (0.0, 1.0)]
    unset = Trainer(tiny_config(tiny_clips, tmp_path / "unset"))
    assert (unset.cfg.explore_epsilon, unset.cfg.explore_mean_hold) == (0.05, 5.0)
    assert [(e.epsilon, e.mean_hold) for e in unset.ez_greedy] == [(0.05, 5.0)]
    assert unset.warmup[0].mean_hold == 5.0
    unset.out.mkdir(parents=True, exist_ok=True)
    unset._write_config()
    saved = json.loads((unset.out / "config.json").read_text())
    assert (saved["explore_epsilon"], saved["explore_mean_hold"]) == (0.05, 5.0)
    # a number on the command line wins, 0 included
    off = Trainer(tiny_config(tiny_clips, tmp_path / "off", explore_epsilon=0.0))
    assert (off.cfg.explore_epsilon, off.cfg.explore_mean_hold) == (0.0, 5.0)
    # a config.json from before the game defaults resumes as it ran
    old = config_from_dict({"videos": "v", "game": "carracing"})
    assert (old.explore_epsilon, old.explore_mean_hold) == (0.0, 1.0)


def test_a_weight_averaged_policy_is_evaluated_beside_the_learners_own(tiny_clips, tmp_path):
    cfg = tiny_config(tiny_clips, tmp_path / "run",
                      learner=LearnerSettings(hidden=(32,), average_decay=0.9))
    summary = train(cfg)
    rows = (tmp_path / "run" / "eval.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert "averaged_greedy_score" in header and "averaged_sampled_mean" in header
    averaged = summary["averaged"]
    assert averaged["average_decay"] == 0.9 and np.isfinite(averaged["greedy_mean"])
    # the same run without the average: the learner's own play and evaluation are unchanged
    plain = train(tiny_config(tiny_clips, tmp_path / "plain"))
    assert plain["averaged"] is None
    assert plain["greedy_mean"] == summary["greedy_mean"]
    assert plain["sampled_mean"] == summary["sampled_mean"]


def test_kept_evaluation_checkpoints_reload_the_learner_of_their_step(tiny_clips, tmp_path):
    from experiments.evaluate_checkpoints import evaluate_run
    from lfo.loop.policy import load_run

    run = tmp_path / "run"
    summary = train(tiny_config(tiny_clips, run, keep_eval_checkpoints=True))
    kept = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert kept == ["step_0000120", "step_0000240"]
    first = load_run(run, learner_checkpoint="checkpoints/step_0000120").load_learner()
    last = load_run(run, learner_checkpoint="checkpoints/step_0000240").load_learner()
    own = load_run(run).load_learner()
    params = [dict(m.agent.q.named_parameters()) for m in (first, last, own)]
    assert all(np.array_equal(params[1][k].detach(), params[2][k].detach()) for k in params[1])
    assert not all(np.array_equal(params[0][k].detach(), params[1][k].detach())
                   for k in params[0])
    # played again on evaluation seed 0, the last kept learner scores what the run's final
    # greedy evaluation (seed 0) scored
    result = evaluate_run(run, episodes=1)
    assert [r["step"] for r in result["rows"]] == [120, 240]
    assert result["rows"][-1]["greedy"]["returns"] == [
        summary["episodes"]["greedy"]["episodes"][0]["episode_return"]]
    assert "run_own_score" in result["rows"][0]["greedy"]
    named = evaluate_run(run, episodes=1, checkpoints=["checkpoint"])
    assert [r["step"] for r in named["rows"]] == [240]
    assert named["rows"][0]["greedy"]["returns"] == result["rows"][-1]["greedy"]["returns"]
    with pytest.raises(FileNotFoundError, match="not a saved learner"):
        load_run(run, learner_checkpoint="checkpoints/step_0000999")
    # a new run in the folder clears the old run's kept learners
    train(tiny_config(tiny_clips, run, force=True, steps=120))
    assert not (run / "checkpoints").exists()


def test_checkpoint_summary_reads_the_last_learner_by_step_not_by_order():
    from experiments.evaluate_checkpoints import summarise

    def row(step, greedy, sampled):
        return {"step": step, "greedy": {"score": greedy}, "sampled": {"score": sampled}}

    # the last checkpoint (60k) listed before the reward-free choice (30k)
    s = summarise([row(60000, 0.8, 0.9), row(30000, 0.88, 0.86)])
    assert s["greedy"]["last"] == 0.8 and s["sampled"]["last"] == 0.9
    assert s["greedy"]["best_minus_last"] == pytest.approx(0.08)
    assert s["sampled"]["best_minus_last"] == 0.0
