"""Opening a run folder never runs code: checkpoints are plain data read with
``weights_only=True``, every entry point that opens a run folder refuses a file that carries
anything else (in one line, before anything in it runs), older checkpoints are refused with
the conversion command, and a fresh run's checkpoint round-trips exactly."""

from __future__ import annotations

import importlib.util
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from lfo.algorithms.learner import LearnerSettings
from lfo.algorithms.methods import build_learner
from lfo.data.safe_load import UnsafeCheckpoint, safe_load, safe_save
from lfo.loop.checkpoint import read_checkpoint, read_state, write_checkpoint

ROOT = Path(__file__).resolve().parents[1]


class SideEffect:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def poison(path: Path, marker: Path) -> None:
    """Add one object with a side effect to the checkpoint file at ``path`` (the rest of it
    stays as saved)."""
    data = torch.load(path, weights_only=True)
    data["extra"] = SideEffect(marker)
    torch.save(data, path)


def script(name: str):
    spec = importlib.util.spec_from_file_location(f"script_{name}_safe",
                                                  ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_side_effect_is_live(tmp_path):
    """The poison the tests use does run its command when unpickled without restriction."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(SideEffect(marker)))
    assert marker.exists()


# ----------------------------------------------------------------------------- the format
def test_plain_data_round_trips_exactly_and_loads_weights_only(tmp_path):
    rng = np.random.default_rng(3)
    rng.random(5)
    state = {
        "obs": np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2],  # not contiguous
        "action": np.array([4, 0, 2], np.int64), "done": np.array([0.0, 1.0], np.float32),
        "f64": np.linspace(0, 1, 3), "u8": np.zeros((2, 2), np.uint8),
        "mask": np.array([True, False]), "zero_d": np.array(2.5, np.float32),
        "read_only": np.frombuffer(np.arange(3, dtype=np.int64).tobytes(), np.int64),
        "normalizer": (np.ones(3, np.float32), np.full(3, 2.0, np.float32)),
        "random_return": np.float64(-93.25), "step": np.int64(7),
        "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
        "eval_rows": [{"step": 1, "greedy_mean": 1.5, "note": "2 2 1", "score": float("nan")}],
        "none": None,
    }
    safe_save(state, tmp_path / "state.pt")
    torch.load(tmp_path / "state.pt", weights_only=True)  # no allowlist needed
    back = safe_load(tmp_path / "state.pt")
    for key in ("obs", "action", "done", "f64", "u8", "mask", "zero_d", "read_only"):
        assert back[key].dtype == state[key].dtype and back[key].shape == state[key].shape, key
        np.testing.assert_array_equal(back[key], state[key])
    assert isinstance(back["normalizer"], tuple) and back["normalizer"][0].dtype == np.float32
    assert back["random_return"] == -93.25 and type(back["random_return"]) is float
    assert back["step"] == 7 and type(back["step"]) is int
    assert back["rng"] == state["rng"] and torch.equal(back["torch_rng"], state["torch_rng"])
    assert back["eval_rows"][0]["note"] == "2 2 1" and np.isnan(back["eval_rows"][0]["score"])
    assert back["none"] is None


def test_anything_but_plain_data_fails_when_saved_not_when_loaded(tmp_path):
    with pytest.raises(TypeError, match=r"state.pt\['rows'\]\[0\].*SideEffect"):
        safe_save({"rows": [SideEffect(tmp_path / "m")]}, tmp_path / "state.pt")
    assert not (tmp_path / "state.pt").exists()


def test_a_file_that_would_run_code_is_refused_in_one_line(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"weights": torch.zeros(2), "x": SideEffect(marker)}, tmp_path / "agent.pt")
    with pytest.raises(UnsafeCheckpoint) as refused:
        safe_load(tmp_path / "agent.pt")
    message = str(refused.value)
    assert "\n" not in message and str(tmp_path / "agent.pt") in message
    assert "may run code" in message and "not loaded" in message and "system" in message
    assert not marker.exists()


def test_a_corrupt_file_is_unreadable_not_unsafe(tmp_path):
    (tmp_path / "state.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint") as caught:
        safe_load(tmp_path / "state.pt")
    assert not isinstance(caught.value, UnsafeCheckpoint)


def test_an_encoder_file_named_by_a_run_is_refused_the_same_way(tmp_path):
    """A run's config.json may name an encoder checkpoint by path: it is read the same way."""
    import encoders

    marker = tmp_path / "ran"
    torch.save({"format": "lfo-encoder", "x": SideEffect(marker)}, tmp_path / "encoder.pt")
    with pytest.raises(UnsafeCheckpoint, match="encoder.pt .*may run code"):
        encoders.load(str(tmp_path / "encoder.pt"))
    assert not marker.exists()


def _tiny_learner():
    settings = LearnerSettings(hidden=(8,), idm_hidden=(8,)).for_problem(4, 3, 0)
    return lambda: build_learner("iq-idm", settings)


def test_read_checkpoint_refuses_an_unsafe_file_instead_of_falling_back(tmp_path):
    """A corrupt checkpoint falls back to checkpoint.old; an unsafe one is refused at once."""
    new_learner, folder = _tiny_learner(), tmp_path / "checkpoint"
    write_checkpoint(folder, new_learner(), {"step": 80, "replay": np.zeros((2, 4), np.float32)})
    shutil.copytree(folder, tmp_path / "checkpoint.old")
    (folder / "state.pt").write_bytes(b"cut short")
    assert read_checkpoint(folder, new_learner)[1]["step"] == 80  # the older copy
    for name in ("state.pt", "agent.pt", "learner.pt", "idm.pt"):
        shutil.rmtree(folder)
        shutil.copytree(tmp_path / "checkpoint.old", folder)
        marker = tmp_path / f"ran-{name}"
        poison(folder / name, marker)
        with pytest.raises(UnsafeCheckpoint, match=name):
            read_checkpoint(folder, new_learner)
        assert not marker.exists()


# ----------------------------------------------------------------------------- older files
def _legacy_run(tmp_path: Path) -> tuple[Path, dict]:
    """A run folder whose state.pt is in the format before safe checkpoints (numpy pickled)."""
    run, new_learner = tmp_path / "old", _tiny_learner()
    state = {"step": 80, "random_return": np.float64(-12.5),
             "replay": {"obs": np.ones((3, 4), np.float32), "action": np.arange(3)},
             "normalizer": (np.zeros(4, np.float32), np.ones(4, np.float32)),
             "eval_rows": [{"step": 80, "greedy_mean": np.float64(3.0)}]}
    write_checkpoint(run / "checkpoint", new_learner(), {})
    torch.save(state, run / "checkpoint" / "state.pt")  # what lfo wrote before
    return run, state


def test_an_older_checkpoint_is_refused_with_the_command_that_converts_it(tmp_path, capsys):
    run, state = _legacy_run(tmp_path)
    with pytest.raises(UnsafeCheckpoint,
                       match=f"convert it once with: python scripts/convert_checkpoint.py "
                             f"--run {run}$"):
        read_state(run / "checkpoint")
    convert = script("convert_checkpoint")
    before = (run / "checkpoint" / "state.pt").read_bytes()
    assert convert.main(["--run", str(run), "--dry-run"]) == 0
    assert (run / "checkpoint" / "state.pt").read_bytes() == before
    assert convert.main(["--run", str(run)]) == 0
    assert "converted" in capsys.readouterr().out
    back = read_state(run / "checkpoint")
    np.testing.assert_array_equal(back["replay"]["obs"], state["replay"]["obs"])
    assert back["replay"]["action"].dtype == np.int64
    assert back["normalizer"][1].dtype == np.float32 and back["random_return"] == -12.5
    assert back["eval_rows"] == [{"step": 80, "greedy_mean": 3.0}]
    assert convert.main(["--run", str(run)]) == 0
    assert "already loads safely" in capsys.readouterr().out


def test_the_conversion_runs_nothing_and_leaves_a_hostile_file_as_it_was(tmp_path, capsys):
    run, _ = _legacy_run(tmp_path)
    marker = tmp_path / "ran"
    state = run / "checkpoint" / "state.pt"
    torch.save({"step": np.int64(1), "x": SideEffect(marker)}, state)
    before = state.read_bytes()
    assert script("convert_checkpoint").main(["--run", str(run)]) == 1
    err = capsys.readouterr().err
    assert "system" in err and "cannot be converted" in err
    assert state.read_bytes() == before and not marker.exists()


# ----------------------------------------------------------------------------- run folders
@pytest.fixture(scope="module")
def trained(tiny_clips, tmp_path_factory):
    """One fresh tiny run (IQ-idm: agent.pt, idm.pt, learner.pt, state.pt) and its trainer."""
    from test_train import tiny_config

    from lfo.loop.trainer import Trainer

    trainer = Trainer(tiny_config(tiny_clips, tmp_path_factory.mktemp("safe") / "run",
                                  steps=100, eval_every=100))
    trainer.run()
    return trainer


def test_a_fresh_checkpoint_resumes_with_the_same_next_updates(trained):
    """Saved and loaded the safe way, a resumed trainer holds exactly the saved state and
    takes the same next updates as the trainer that saved it."""
    from lfo.loop.config import load_run_config
    from lfo.loop.trainer import Trainer

    trained.save_checkpoint()
    torch_rng = torch.get_rng_state()
    resumed = Trainer(load_run_config(trained.out, progress=False))
    resumed.load_checkpoint()
    assert resumed.step == trained.step == 100 and len(resumed.replay) == 100
    for name in ("obs", "next_obs", "action", "done"):
        a, b = getattr(trained.replay, name), getattr(resumed.replay, name)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert resumed.normalizer.mean.dtype == np.float32
    np.testing.assert_array_equal(resumed.normalizer.mean, trained.normalizer.mean)
    np.testing.assert_array_equal(resumed.normalizer.std, trained.normalizer.std)
    assert resumed.rng.bit_generator.state == trained.rng.bit_generator.state
    assert ([e.state_dict() for e in resumed.ez_greedy]
            == [e.state_dict() for e in trained.ez_greedy])
    assert resumed.eval_rows == trained.eval_rows
    assert resumed.random_return == trained.random_return
    assert torch.equal(torch.get_rng_state(), torch_rng)
    # the IDM's last logs are echoed between its steps and not saved: compare the rest, and
    # the IDM's weights after its next steps
    def learning(logs: dict) -> dict:
        return {k: v for k, v in logs.items() if not k.startswith("idm_")}

    resumed_logs = [learning(resumed.update()) for _ in range(3)]
    torch.set_rng_state(torch_rng)
    assert [learning(trained.update()) for _ in range(3)] == resumed_logs
    for a, b in zip(trained.learner.idm.parameters(), resumed.learner.idm.parameters(),
                    strict=True):
        assert torch.equal(a, b)
    features = trained.expert.obs[:5]
    assert np.array_equal(resumed.learner.act(features), trained.learner.act(features))


ENTRY_POINTS = ("train --resume", "shift_eval.py --run", "audit_labels.py --run", "load_run")


def _open(entry: str, run: Path, capsys) -> str:
    """Open ``run`` through ``entry``; the one-line refusal it gives."""
    if entry == "load_run":
        from lfo.loop.policy import load_run

        with pytest.raises(UnsafeCheckpoint) as refused:
            load_run(run)
        return str(refused.value)
    argv = {"train --resume": ("train_lfo", ["--out", str(run), "--resume", "--no-progress"]),
            "shift_eval.py --run": ("shift_eval", ["--run", str(run), "--no-progress"]),
            "audit_labels.py --run": ("audit_labels", ["--run", str(run)])}[entry]
    assert script(argv[0]).main(argv[1]) != 0
    errors = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, errors  # warnings about the tiny clips may come before it
    return errors[0]


@pytest.mark.parametrize("poisoned", ["state.pt", "agent.pt", "learner.pt"])
def test_every_entry_point_refuses_a_run_folder_that_would_run_code(
    trained, poisoned, tmp_path, capsys
):
    run, marker = tmp_path / "shared-run", tmp_path / "ran"
    shutil.copytree(trained.out, run)
    poison(run / "checkpoint" / poisoned, marker)
    for entry in ENTRY_POINTS:
        message = _open(entry, run, capsys)
        assert f"refused {run / 'checkpoint' / poisoned}" in message, (entry, message)
        assert "may run code" in message and "not loaded" in message, (entry, message)
        assert not marker.exists(), f"{entry} ran the file's code"
