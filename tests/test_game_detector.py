"""The game detector (lfo.demonstrations.game_detector) and the refusals built on it.

GIVEN clips of the supported games (cut from the shipped folders), of other Atari games
(random play recorded here) and of no game at all, WHEN the game is inferred, THEN the
pictures name the right game under every video shift, say "unknown" for the others, and
every disagreement (--env, a sidecar, two games in one folder, an unknown game) stops the
run in one line before anything is encoded or written. Broken sidecars are warned about
and ignored.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from lfo.data.sidecar import read_metadata, sidecar_problem
from lfo.data.video import sample_frames, scan_folder, write_clip
from lfo.demonstrations import game_detector as gd
from lfo.demonstrations.clips import infer_game
from lfo.envs.games import GAMES
from lfo.testing.other_games import record_random_ale_clip

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = ROOT / "videos"
SUPPORTED = ", ".join(GAMES)


def _excerpt(src: Path, dst: Path, n: int = 24) -> Path:
    """A time-lapse of ``n`` frames spread over a shipped clip (cheap to shift and detect)."""
    (clip,) = scan_folder(src, warn=False).clips
    return write_clip(dst, sample_frames(clip, n), clip.fps)


def _record_other_game(env_id: str, dst: Path, steps: int = 120) -> Path:
    """Random play of another Atari game (not one the library supports)."""
    return record_random_ale_clip(env_id, dst, steps)


@pytest.fixture(scope="module")
def excerpts(tmp_path_factory) -> dict[str, list[Path]]:
    """Two excerpts per supported game, without sidecars: ``{game: [clip, clip]}``."""
    root = tmp_path_factory.mktemp("excerpts")
    return {game: [_excerpt(VIDEOS / game / f"clip_00{i}.mp4", root / game / f"clip_00{i}.mp4")
                   for i in (0, 1)] for game in GAMES}


@pytest.fixture(scope="module")
def other_games(tmp_path_factory) -> Path:
    """Clips of no supported game: two other Atari games, noise and a solid colour."""
    root = tmp_path_factory.mktemp("other")
    _record_other_game("ALE/SpaceInvaders-v5", root / "spaceinvaders.mp4")
    _record_other_game("ALE/Freeway-v5", root / "freeway.mp4")
    rng = np.random.default_rng(0)
    write_clip(root / "noise.mp4", rng.integers(0, 256, (30, 96, 96, 3), dtype=np.uint8), 30.0)
    write_clip(root / "solid.mp4", np.full((30, 96, 96, 3), (40, 90, 200), np.uint8), 30.0)
    return root


def _folder(tmp_path: Path, name: str, clips: list[Path]) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for i, clip in enumerate(clips):
        shutil.copy(clip, folder / f"clip_{i:03d}{clip.suffix}")
    return folder


# ----------------------------------------------------------------------------- the detector
def test_excerpts_of_each_game_are_recognised(excerpts):
    for game, clips in excerpts.items():
        for guess in gd.detect_folder(scan_folder(clips[0].parent, warn=False)):
            assert guess.game == game, guess.describe()
            assert guess.distances[game] <= gd.UNKNOWN_DISTANCE < min(
                d for g, d in guess.distances.items() if g != game)


def test_other_games_and_pictures_of_no_game_are_unknown(other_games):
    guesses = gd.detect_folder(scan_folder(other_games, warn=False))
    assert len(guesses) == 4
    for guess in guesses:
        assert guess.game is None, f"{guess.path.name}: {guess.describe()}"


def test_letterbox_bars_are_cut_and_a_one_sided_dark_strip_is_kept():
    frames = np.random.default_rng(0).integers(60, 255, (3, 40, 30, 3), dtype=np.uint8)
    boxed = np.zeros((3, 40, 60, 3), np.uint8)
    boxed[:, :, 15:45] = frames
    assert np.array_equal(gd.trim_bars(boxed), frames)
    strip = frames.copy()
    strip[:, -5:] = 0  # a blacked-out dashboard along the bottom edge only
    assert gd.trim_bars(strip).shape == strip.shape
    assert gd.trim_bars(np.zeros((3, 40, 30, 3), np.uint8)) is None


def test_a_flat_frame_is_far_from_every_reference():
    refs = gd.shipped_references()
    flat = np.full((1, gd.GRID, gd.GRID, 3), 120.0)
    for grids in refs.values():
        assert gd.nearest_distance(flat, grids)[0] >= gd.GAIN_RANGE[0] - 1e-6


def test_a_corrupt_reference_file_is_refused(tmp_path):
    copy = tmp_path / gd.REFERENCES.name
    shutil.copy(gd.REFERENCES, copy)
    shutil.copy(gd.MANIFEST, copy.with_suffix(".json"))
    assert set(gd.load_reference_frames(copy)) == set(GAMES)
    copy.write_bytes(copy.read_bytes()[:-10])
    with pytest.raises(gd.ReferencesError, match="corrupt"):
        gd.load_reference_frames(copy)


@pytest.mark.slow  # decodes every shipped clip
@pytest.mark.parametrize("game", GAMES)
def test_every_shipped_clip_is_recognised(game):
    guesses = gd.detect_folder(scan_folder(VIDEOS / game, warn=False))
    wrong = [g.describe() for g in guesses if g.game != game]
    assert not wrong and len(guesses) >= 10, wrong


@pytest.mark.parametrize("shift", ["reencode", "up2x", "letterbox", "fps25", "fps60", "crf40",
                                   "color", "nohud", "crop"])
def test_shifted_copies_are_recognised(excerpts, tmp_path, shift):
    from lfo.shifts.folders import apply_video_shift

    for game, clips in excerpts.items():
        shifted = apply_video_shift(clips[0].parent, shift, tmp_path / game, progress=False)
        guesses = gd.detect_folder(scan_folder(shifted, warn=False))
        assert len(guesses) == 2
        for guess in guesses:
            assert guess.game == game, f"{shift} {game} {guess.path.name}: {guess.describe()}"


# ----------------------------------------------------------------------------- refusals
def test_a_clip_of_an_unknown_game_is_refused_naming_the_supported_games(other_games, tmp_path):
    folder = _folder(tmp_path, "si", [other_games / "spaceinvaders.mp4"])
    with pytest.raises(ValueError) as err:
        infer_game(scan_folder(folder), None)
    message = str(err.value)
    assert "\n" not in message
    assert "clip_000.mp4 shows none of the supported games" in message
    assert SUPPORTED in message and "--env" in message


def test_unknown_pictures_named_by_env_are_used_with_a_warning(other_games, tmp_path):
    folder = _folder(tmp_path, "noise", [other_games / "noise.mp4"])
    with pytest.warns(UserWarning, match="do not look like carracing .* because --env says so"):
        assert infer_game(scan_folder(folder), "carracing") == "carracing"


def test_env_against_the_pictures_is_refused(excerpts, tmp_path):
    folder = _folder(tmp_path, "pong", excerpts["pong"])
    with pytest.raises(ValueError, match=r"clip_000.mp4 shows pong \(and 1 more of the 2 clips\), "
                                         "but --env says carracing: pass --env pong"):
        infer_game(scan_folder(folder), "carracing")


def test_a_folder_of_two_games_is_refused_naming_both(excerpts, tmp_path):
    folder = _folder(tmp_path, "mixed", [excerpts["carracing"][0], excerpts["pong"][0]])
    for requested in (None, "carracing"):
        with pytest.raises(ValueError, match=r"show more than one game \(1 show carracing, 1 show "
                                             r"pong\): .*clip_000.mp4 shows carracing, "
                                             r".*clip_001.mp4 shows pong"):
            infer_game(scan_folder(folder), requested)


def test_a_sidecar_against_the_pictures_is_refused(excerpts, tmp_path):
    """The reported case: one sidecar truncated, the other naming Pong on CarRacing frames."""
    folder = _folder(tmp_path, "cars", excerpts["carracing"])
    (folder / "clip_000.json").write_text('{"game": "carracing", "return": 9')
    (folder / "clip_001.json").write_text(json.dumps({"env_id": "ALE/Pong-v5", "return": 3.0}))
    with pytest.warns(UserWarning, match="clip_000.json: not valid JSON"):
        with pytest.raises(ValueError, match="clip_001.mp4 shows carracing, but its sidecar "
                                             "clip_001.json says pong: fix or delete"):
            infer_game(scan_folder(folder), None)


@pytest.mark.parametrize("argv_env", [["--env", "carracing"], []])
def test_cli_refuses_in_one_line_and_writes_no_run_folder(excerpts, other_games, tmp_path,
                                                         capsys, argv_env):
    from lfo.cli.train_lfo import main

    cases = {
        "pong": (_folder(tmp_path, "pong", excerpts["pong"]),
                 "shows pong" if argv_env else None),
        "mixed": (_folder(tmp_path, "mixed", [excerpts["carracing"][0], excerpts["pong"][0]]),
                  "show more than one game"),
        "other": (_folder(tmp_path, "other", [other_games / "freeway.mp4"]),
                  None if argv_env else "shows none of the supported games"),
    }
    for name, (folder, expected) in cases.items():
        if expected is None:
            continue
        out = tmp_path / f"run-{name}"
        rc = main(["--videos", str(folder), *argv_env, "--out", str(out), "--no-progress"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 1, name
        assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
        assert not out.exists(), f"{name}: the run folder was written"


# ----------------------------------------------------------------------------- sidecars
def test_broken_sidecars_are_named_in_a_warning_and_the_pictures_decide(excerpts, tmp_path):
    folder = _folder(tmp_path, "cars", excerpts["carracing"])
    (folder / "clip_000.json").write_text('{"game": "pong", "fps": 5')  # truncated
    (folder / "clip_001.json").write_text(json.dumps({"game": 3, "fps": "fast", "return": 1.0}))
    with pytest.warns(UserWarning) as caught:
        assert read_metadata(folder / "clip_000.mp4") is None
        assert read_metadata(folder / "clip_001.mp4") is None
    messages = [str(w.message) for w in caught]
    assert any("clip_000.json: not valid JSON" in m for m in messages)
    assert any("clip_001.json: field 'game' is 3, which is not a string" in m for m in messages)
    assert all("\n" not in m for m in messages)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert infer_game(scan_folder(folder), None) == "carracing"


def test_sidecar_field_types():
    assert sidecar_problem({"game": "pong", "fps": 15, "return": -3.5, "seed": 4,
                            "terminated": True, "env_kwargs": {}, "length": None}) is None
    assert "JSON object" in sidecar_problem([1, 2])
    assert "'fps'" in sidecar_problem({"fps": "50"})
    assert "'return'" in sidecar_problem({"return": True})  # true is not a number here
    assert "'seed'" in sidecar_problem({"seed": 1.5})
    assert "'terminated'" in sidecar_problem({"terminated": 1})
