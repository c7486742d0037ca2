"""Every script in scripts/: --help works, shows plain text, and speaks one flag vocabulary."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.stem for p in (ROOT / "scripts").glob("*.py"))

#: flags each script must offer (the shared vocabulary where the concept appears)
EXPECTED = {
    "audit_labels": {"--run", "--json"},
    "benchmark": {"--env", "--videos", "--methods", "--seeds", "--steps", "--out", "--json",
                  "--progress", "--no-progress", "--run.learner.lr", "--run.learning-starts",
                  "--run.max-episode-steps", "--run.eval-episodes", "--run.encoder"},
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
                  "--max-episode-steps", "--eval-episodes", "--progress", "--learner.lr"},
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
