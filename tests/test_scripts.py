"""Every command: the console entry points declared in pyproject.toml and the scripts in
scripts/ that run the same main from a checkout. --help works, shows plain text, and speaks
one flag vocabulary; no script or experiment edits sys.path (the package is installed)."""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.stem for p in (ROOT / "scripts").glob("*.py"))
#: console command -> "module:function", as pyproject.toml declares them
ENTRY_POINTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]

#: flags each script must offer (the shared vocabulary where the concept appears)
EXPECTED = {
    "audit_labels": {"--run", "--json"},
    "bench_loop": {"--env", "--videos", "--encoders", "--variants", "--measure-steps",
                   "--learning-starts", "--device", "--seed", "--json"},
    "build_game_references": {"--videos", "--out"},
    "convert_checkpoint": {"--run"},
    "encode_videos": {"--videos", "--encoder", "--env", "--action-repeat", "--executor",
                      "--ray-address", "--workers", "--cache", "--progress", "--no-progress"},
    "benchmark": {"--env", "--videos", "--methods", "--seeds", "--steps", "--out", "--json",
                  "--progress", "--no-progress", "--run.learner.lr", "--run.learning-starts",
                  "--run.max-episode-steps", "--run.eval-episodes", "--run.encoder",
                  "--executor", "--ray-address", "--cpus-per-run"},
    "inspect_videos": {"--videos", "--json"},
    "measure_expert": {"--env", "--seeds", "--max-episode-steps", "--json"},
    "pretrain_encoder": {"--env", "--videos", "--out", "--seed", "--play.steps"},
    "pretrain_state_encoder": {"--env", "--out", "--seed", "--max-episode-steps", "--progress"},
    "probe_encoder": {"--env", "--encoder", "--seeds", "--max-episode-steps", "--json"},
    "probe_state_encoder": {"--env", "--videos", "--max-episode-steps", "--json"},
    "record_videos": {"--env", "--out", "--episodes", "--seed", "--max-episode-steps",
                      "--progress"},
    "shift_eval": {"--run", "--eval-episodes", "--max-episode-steps", "--out", "--json",
                   "--list-shifts", "--progress", "--no-progress"},
    "train_lfo": {"--videos", "--env", "--method", "--steps", "--seed", "--out", "--encoder",
                  "--max-episode-steps", "--eval-episodes", "--progress", "--learner.lr",
                  "--num-envs", "--vectorization", "--train-frequency", "--gradient-steps",
                  "--device"},
}

#: old spellings of the shared concepts that no script may accept
FORBIDDEN = ("--game", "--max-steps", "--set", "--list")


def _help(name: str, capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "200")
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"])
    assert exit_.value.code in (0, None)
    return capsys.readouterr().out


def test_every_script_is_covered():
    assert set(SCRIPTS) == set(EXPECTED)


def _entry_point(command: str):
    module, _, function = ENTRY_POINTS[command].partition(":")
    return importlib.import_module(module), function


def test_every_script_has_one_console_command_and_is_a_thin_wrapper():
    """scripts/X.py and the command declared for lfo.cli.X run the same main; the script
    holds nothing else (no sys.path edit, no second copy of the code)."""
    modules = {target.partition(":")[0]: cmd for cmd, target in ENTRY_POINTS.items()}
    assert set(modules) == {f"lfo.cli.{name}" for name in SCRIPTS}, modules
    assert all(target.endswith(":main") for target in ENTRY_POINTS.values())
    assert all(cmd.startswith("lfo-") for cmd in ENTRY_POINTS)
    for name in SCRIPTS:
        tree = ast.parse((ROOT / "scripts" / f"{name}.py").read_text())
        imports = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
        assert [(n.module, [a.name for a in n.names]) for n in imports] == [
            (f"lfo.cli.{name}", ["main"])], f"scripts/{name}.py is not a thin wrapper"


@pytest.mark.parametrize("folder", ["scripts", "experiments"])
def test_no_script_or_experiment_touches_sys_path(folder):
    touching = [p.name for p in (ROOT / folder).glob("*.py") if "sys.path" in p.read_text()]
    assert not touching, f"{folder}/ edits sys.path: {touching} (the package is installed)"


def test_installed_console_commands_match_pyproject():
    """Where the package is installed (make install), its commands are pyproject's."""
    installed = {ep.name: ep.value for ep in importlib.metadata.entry_points(
        group="console_scripts") if ep.dist is not None and ep.dist.name == "lfo"}
    if not installed:
        pytest.skip("lfo's console commands are not installed here (make install adds them)")
    assert installed == ENTRY_POINTS


@pytest.mark.parametrize("command", sorted(ENTRY_POINTS))
def test_console_command_help_exits_0_with_the_shared_flags(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    module, function = _entry_point(command)
    with pytest.raises(SystemExit) as exit_:
        getattr(module, function)(["--help"])
    assert exit_.value.code in (0, None)
    text = capsys.readouterr().out
    assert "usage:" in text and "(default:" in text
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9.-]*[a-z0-9]", text))
    name = module.__name__.rpartition(".")[2]
    assert EXPECTED[name] <= flags, f"{command} lacks {sorted(EXPECTED[name] - flags)}"


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_exits_0_without_markup_and_with_the_shared_flags(name, capsys, monkeypatch):
    text = _help(name, capsys, monkeypatch)
    assert "usage:" in text
    for markup in ("``", ":mod:", ":func:", ":class:", ":meth:"):
        assert markup not in text, f"{name} --help shows {markup!r}"
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9.-]*[a-z0-9]", text))
    assert EXPECTED[name] <= flags, f"{name} lacks {sorted(EXPECTED[name] - flags)}"
    for old in FORBIDDEN:
        bad = [f for f in flags if f == old or f.endswith("." + old[2:])]
        assert not bad, f"{name} accepts {bad}"
    if "--seeds" in flags:  # seed values, not a count
        assert re.search(r"--seeds [^\n]*INT \[INT", text), f"{name}: --seeds takes a list"
    # every option shows its default (or says it is required)
    assert "(default:" in text


def test_resume_needs_only_the_run_folder_and_refuses_changed_settings(tmp_path):
    """``--out RUN --resume`` (the line an interrupted run prints) reads every setting from
    the run's config.json; only the budget may change."""
    import dataclasses
    import json

    from lfo.algorithms.learner import LearnerSettings
    from lfo.cli import train_lfo as script
    from lfo.loop.config import TrainConfig
    run = tmp_path / "run"
    run.mkdir()
    saved = TrainConfig(videos="videos/carracing", steps=3000, seed=4,
                        learner=LearnerSettings(lr=1e-3))
    (run / "config.json").write_text(json.dumps({**dataclasses.asdict(saved), "game": "x"}))

    cfg = script.parse_config(["--out", str(run), "--resume"])
    assert (cfg.videos, cfg.steps, cfg.seed, cfg.learner.lr) == ("videos/carracing", 3000, 4, 1e-3)
    assert cfg.resume and cfg.out == str(run)
    assert script.parse_config(["--out", str(run), "--resume", "--steps", "6000"]).steps == 6000
    with pytest.raises(ValueError, match="learner"):
        script.parse_config(["--out", str(run), "--resume", "--learner.lr", "0.1"])
    with pytest.raises(ValueError, match="--resume needs --out"):
        script.parse_config(["--resume"])
    with pytest.raises(RuntimeError, match="cannot resume"):
        script.parse_config(["--out", str(tmp_path / "none"), "--resume"])
