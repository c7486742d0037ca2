"""Distribution-shift robustness tests.

GIVEN each named shift (lfo.shifts.registry), THEN it changes what it says it changes (decoded
size, aspect, frame rate and frame order, pixel statistics, compression error, the
simulator's parameters, the demonstrators' skill); the feature pipeline and the trainer
run on every shifted folder; scripts/shift_eval.py writes its table, chart and JSON; and
on a tiny pixel task an agent trained from clean videos keeps most of its return under a
mild env shift, and still learns from upscaled videos.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import decode_index, index_frames

import lfo.shifts.folders as shifted_videos
from lfo.data.sidecar import read_metadata
from lfo.data.video import read_clip, scan_folder, write_clip
from lfo.demonstrations.recorder import ACTIONS_KEY
from lfo.envs.evaluate import DEMO_SEED_BASE
from lfo.envs.games import make_env, make_raw_env
from lfo.loop.config import TRAIN_SEED_BASE
from lfo.shifts.folders import MANIFEST, apply_video_shift
from lfo.shifts.registry import (
    DEMO_SHIFTS,
    FOLDER_SHIFTS,
    UNSEEN_TRACK_SEED_BASE,
    VIDEO_SHIFTS,
    Clip,
    ColorJitter,
    color_jitter,
    env_shifts,
    get_env_shift,
    letterbox_size,
    retime,
)

ROOT = Path(__file__).resolve().parents[1]
N_FRAMES = 30  # index-coded frames 0-31 differ in red only (survives two encodings)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module", autouse=True)
def shifted_cache(tmp_path_factory):
    """Shifted folders go to a temporary cache, not the repository's .cache/."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shifted_videos, "DEFAULT_CACHE", tmp_path_factory.mktemp("shifted"))
        yield


def texture_frames(n: int, size: int = 32) -> np.ndarray:
    """Random 8x8 blocks (compress imperfectly) with a white square at rows/cols 20-27."""
    rng = np.random.default_rng(0)
    base = np.repeat(rng.integers(0, 256, (n, size // 8, size // 8, 1)), 3, axis=3)
    base[..., 2] //= 2  # some colour; one luminance pattern (chroma is subsampled 2x)
    frames = np.stack([np.kron(f, np.ones((8, 8, 1))) for f in base]).astype(np.uint8)
    frames[:, 20:28, 20:28] = 255
    return frames


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """Two synthetic 50 fps clips (one nested) with sidecars that hold expert actions."""
    root = tmp_path_factory.mktemp("source")
    for rel, frames in (("index.mp4", index_frames(N_FRAMES)),
                        ("sub/texture.mp4", texture_frames(N_FRAMES))):
        path = write_clip(root / rel, frames, 50.0, crf=10)
        meta = {"game": "carracing", "seed": 10_000, "return": 1.0, "length": N_FRAMES - 1,
                ACTIONS_KEY: [3] * (N_FRAMES - 1)}
        path.with_suffix(".json").write_text(json.dumps(meta))
    return root


@pytest.fixture(scope="module")
def shifted(source) -> dict[str, Path]:
    return {name: apply_video_shift(source, name, progress=False) for name in VIDEO_SHIFTS}


def decoded(folder: Path, rel: str) -> tuple[np.ndarray, float]:
    clip = next(c for c in scan_folder(folder) if c.path.relative_to(folder).as_posix() == rel)
    return read_clip(clip), clip.fps


# ----------------------------------------------------------------------------- video shifts
def test_every_video_shift_writes_every_clip_with_a_sidecar_without_actions(source, shifted):
    for name, folder in shifted.items():
        clips = sorted(c.path.relative_to(folder).as_posix() for c in scan_folder(folder))
        assert clips == ["index.mp4", "sub/texture.mp4"], name
        meta = json.loads((folder / "sub/texture.json").read_text())
        assert meta["video_shift"] == name and meta["game"] == "carracing"
        assert ACTIONS_KEY not in meta, name  # copied through lfo.data.sidecar only
        assert json.loads((folder / MANIFEST).read_text())["shift"] == name


def test_resolution_shifts_change_the_decoded_size_and_keep_the_picture(source, shifted):
    original, _ = decoded(source, "sub/texture.mp4")
    up, _ = decoded(shifted["up2x"], "sub/texture.mp4")
    assert up.shape == (N_FRAMES, 64, 64, 3)
    down = up.reshape(N_FRAMES, 32, 2, 32, 2, 3).mean(axis=(2, 4))
    # the same picture, twice as large (bicubic ringing at the texture's sharp edges)
    assert np.abs(down - original).mean() < 10 < np.abs(down - original[::-1]).mean()

    boxed, _ = decoded(shifted["letterbox"], "sub/texture.mp4")
    h, w = boxed.shape[1:3]
    assert (h, w) == letterbox_size(32, 32) == (32, 58) and abs(w / h - 16 / 9) < 0.05
    left = (w - 32) // 2
    assert boxed[:, :, : left - 1].mean() < 5 and boxed[:, :, left + 33 :].mean() < 5  # bars
    inside = boxed[:, :, left : left + 32].astype(float)
    assert np.abs(inside - original).mean() < 10 < np.abs(inside - original[::-1]).mean()


def test_frame_rate_shifts_keep_real_time_and_drop_or_repeat_frames(source, shifted):
    frames25, fps25 = decoded(shifted["fps25"], "index.mp4")
    assert fps25 == pytest.approx(25.0) and len(frames25) == N_FRAMES // 2
    assert decode_index(frames25).tolist() == list(range(0, N_FRAMES, 2))  # every other frame
    frames60, fps60 = decoded(shifted["fps60"], "index.mp4")
    assert fps60 == pytest.approx(60.0) and len(frames60) == N_FRAMES * 6 // 5
    # frame k of the 60 fps clip shows source frame floor(k * 50 / 60): one in five twice
    expected = np.arange(len(frames60)) * 50 // 60
    assert (np.diff(expected) == 0).sum() == N_FRAMES // 5
    index = decode_index(frames60)  # +-1 where two encodings blurred the colour code
    assert np.abs(index - expected).max() <= 1 and np.mean(index == expected) > 0.9
    # the pipeline decodes both back to the game's 50 Hz with real time kept
    assert len(retime(Clip(frames25, 25.0), 50.0).frames) == N_FRAMES


def test_compression_and_colour_shifts_change_pixel_statistics(source, shifted):
    original, _ = decoded(source, "sub/texture.mp4")
    error = {n: np.abs(decoded(shifted[n], "sub/texture.mp4")[0].astype(float) - original).mean()
             for n in ("reencode", "crf40", "color")}
    assert error["reencode"] < 5.0  # a 2nd generation at crf 18 (32x32 blocks: ~3.5)
    assert error["crf40"] > 3 * error["reencode"] and error["crf40"] > 10.0
    jittered, _ = decoded(shifted["color"], "index.mp4")
    plain, _ = decoded(source, "index.mp4")
    channel_shift = np.abs(jittered.mean(axis=(0, 1, 2)) - plain.mean(axis=(0, 1, 2)))
    assert channel_shift.max() > 8  # far beyond codec error (~1 grey level)


def test_colour_jitter_is_never_near_identity_and_is_seeded():
    for seed in range(50):
        j = ColorJitter.draw(np.random.default_rng(seed))
        assert 0.1 <= abs(j.brightness - 1) <= 0.25 and 0.1 <= abs(j.contrast - 1) <= 0.25
        assert 5 <= abs(j.hue_deg) <= 15
    grey = np.full((1, 4, 4, 3), 100, np.uint8)
    out = color_jitter(grey, ColorJitter(brightness=1.2, contrast=1.0, hue_deg=0.0))
    assert np.all(out == 120)
    assert ColorJitter.draw(np.random.default_rng(3)) == ColorJitter.draw(np.random.default_rng(3))


def test_crop_shifts_the_picture_up_left_and_zooms_it(source, shifted):
    def square_centre(frames):
        rows, cols = np.nonzero(frames.astype(float).mean(axis=(0, 3)) > 240)
        return rows.mean(), cols.mean()

    r0, c0 = square_centre(decoded(source, "sub/texture.mp4")[0])
    r1, c1 = square_centre(decoded(shifted["crop"], "sub/texture.mp4")[0])
    cut = round(32 * 0.08)
    scale = 32 / (32 - cut)
    assert abs(r1 - ((r0 + 0.5 - cut) * scale - 0.5)) < 1.0
    assert abs(c1 - ((c0 + 0.5 - cut) * scale - 0.5)) < 1.0  # a pure shift would be 2 px off


def test_shifted_folders_are_cached_by_content(source, shifted, tmp_path):
    again = apply_video_shift(source, "fps25", progress=False)
    assert again == shifted["fps25"]  # the cached folder, not rebuilt
    changed = tmp_path / "changed"
    changed.mkdir()
    (changed / "index.mp4").write_bytes((source / "index.mp4").read_bytes())
    write_clip(changed / "other.mp4", index_frames(10), 50.0)
    assert apply_video_shift(changed, "fps25", progress=False) != shifted["fps25"]
    with pytest.raises(ValueError, match="unknown video shift 'fps24'"):
        apply_video_shift(source, "fps24")
    with pytest.raises(FileExistsError):
        apply_video_shift(source, "up2x", dst_dir=source)  # never writes over a user's folder


def test_feature_pipeline_runs_on_every_shifted_folder(shifted):
    import encoders
    from encoders.clip_features import clip_features

    encoder = encoders.load("pixels-carracing")
    for name, folder in shifted.items():
        for clip in scan_folder(folder):
            feats = clip_features(clip, encoder, "carracing", cache_dir=None)
            # decoded at the game's 50 Hz: every shift keeps the clip's duration
            assert abs(len(feats) - N_FRAMES) <= 1, name
            assert feats.shape[1] == encoder.spec.feature_dim and np.isfinite(feats).all()


# ----------------------------------------------------------------------------- demonstrators
def test_demonstrator_shifts_add_weaker_players_on_fresh_seeds(tiny_clips):
    source_seeds = {read_metadata(c.path)["seed"] for c in scan_folder(tiny_clips)}
    for name, added in (("mixed-skill", 2), ("random-mix", 1)):
        shift = DEMO_SHIFTS[name]
        folder = apply_video_shift(tiny_clips, name, progress=False)
        metas = [read_metadata(c.path) for c in scan_folder(folder)]
        assert len(metas) == 2 + added
        experts = [m for m in metas if m.get("demonstrator") == "expert"]
        weaker = [m for m in metas if m.get("demonstrator") != "expert"]
        assert {m["seed"] for m in experts} == source_seeds
        assert sorted(m["skill"] for m in weaker) == sorted(shift.added(2))
        assert all(m["skill"] < 1.0 for m in weaker)
        seeds = {m["seed"] for m in weaker}
        assert not seeds & source_seeds and min(seeds) == shift.seed_base
        assert all(m["length"] <= 60 for m in weaker)  # capped at the experts' length (60)
        for clip in (folder / "experts").glob("*.json"):
            assert ACTIONS_KEY not in json.loads(clip.read_text())


def test_demonstrator_shift_refuses_seeds_the_folder_already_uses(tmp_path):
    write_clip(tmp_path / "a.mp4", index_frames(4), 50.0)
    meta = {"game": "carracing", "seed": DEMO_SHIFTS["random-mix"].seed_base}
    (tmp_path / "a.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="already use seeds"):
        apply_video_shift(tmp_path, "random-mix", progress=False)


# ----------------------------------------------------------------------------- env shifts
def test_unseen_tracks_use_a_seed_range_nothing_else_uses():
    shift = get_env_shift("carracing", "unseen-tracks")
    seeds = shift.seeds(1000)
    shipped = {read_metadata(p)["seed"] for p in ROOT.glob("videos/*/clip_*.mp4")}
    assert min(seeds) == UNSEEN_TRACK_SEED_BASE >= DEMO_SEED_BASE  # not evaluation seeds
    assert max(seeds) < TRAIN_SEED_BASE and not set(seeds) & shipped
    assert not set(seeds) & set(range(DEMO_SHIFTS["mixed-skill"].seed_base,
                                      DEMO_SHIFTS["random-mix"].seed_base + 10_000))
    env = make_raw_env("carracing")
    env.reset(seed=0)
    usual = np.array(env.unwrapped.track)[:, 2:]
    env.reset(seed=seeds[0])
    unseen = np.array(env.unwrapped.track)[:, 2:]
    assert usual.shape != unseen.shape or not np.allclose(usual, unseen)


def test_domain_randomize_changes_the_colours():
    options = get_env_shift("carracing", "domain-randomize").options
    plain, shifted = make_raw_env("carracing"), make_raw_env("carracing", **options)
    assert shifted.unwrapped.domain_randomize is True
    frame, _ = plain.reset(seed=0)
    other, _ = shifted.reset(seed=0)
    assert not np.allclose(shifted.unwrapped.road_color, plain.unwrapped.road_color)
    assert np.abs(frame.mean(axis=(0, 1)) - other.mean(axis=(0, 1))).max() > 10


@pytest.mark.parametrize("game", ["pong", "breakout"])
def test_atari_shifts_reach_the_emulator(game):
    shifts = env_shifts(game)
    ale = {n: make_raw_env(game, **s.options).unwrapped for n, s in shifts.items()}
    assert ale["sticky0"].ale.getFloat("repeat_action_probability") == 0.0
    assert ale["sticky25"].ale.getFloat("repeat_action_probability") == 0.25
    assert ale["sticky50"].ale.getFloat("repeat_action_probability") == 0.5
    difficulty = next(n for n in shifts if n.startswith("difficulty"))
    mode = next(n for n in shifts if n.startswith("mode"))
    assert ale[difficulty]._game_difficulty == shifts[difficulty].options["difficulty"] > 0
    assert ale[mode]._game_mode == shifts[mode].options["mode"] > 0

    def paddle(env) -> int:  # the agent's paddle, measured on the rendered frame
        frame, _ = env.reset(seed=0)
        frame, *_ = env.step(0)
        if game == "pong":
            return int(np.all(frame[34:194, 140:144] == [92, 186, 92], axis=-1).any(1).sum())
        return int(np.all(frame[185:195] == [200, 72, 72], axis=-1).any(0).sum())

    normal, small = paddle(make_raw_env(game)), paddle(ale[difficulty])
    assert small < normal  # the documented smaller paddle


@pytest.mark.parametrize("game", ["carracing", "pong", "breakout"])
def test_every_env_shift_makes_a_working_env(game):
    for shift in env_shifts(game).values():
        env = make_env(game, **shift.options)
        obs, _ = env.reset(seed=shift.seeds(1)[0])
        obs, *_ = env.step(0)
        assert obs.shape == env.observation_space.shape
    with pytest.raises(ValueError, match="unknown env shift"):
        get_env_shift(game, "gravity")


# ----------------------------------------------------------------------------- end to end
def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_train_from_shifted_videos_then_shift_eval_writes_table_chart_and_json(
    tiny_clips, tmp_path
):
    from lfo.algorithms.learner import LearnerSettings
    from lfo.loop.config import TrainConfig
    from lfo.loop.trainer import train

    def tiny(out: Path, **kw) -> TrainConfig:
        return TrainConfig(
            videos=str(tiny_clips), out=str(out), steps=100, learning_starts=50, batch_size=16,
            learner=LearnerSettings(hidden=(16,)), eval_every=100, eval_episodes=1,
            final_eval_episodes=1, random_episodes=1, checkpoint_every=100, max_episode_steps=20,
            log_every=50,
            progress=False, encoder="pixels-carracing", **kw)

    train(tiny(tmp_path / "clean"))
    train(tiny(tmp_path / "fps25", video_shift="fps25"))
    config = json.loads((tmp_path / "fps25" / "config.json").read_text())
    assert config["video_shift"] == "fps25" and config["shifted_videos"]
    assert all(c.fps == 25.0 for c in scan_folder(config["shifted_videos"]))

    script = _load_script("shift_eval")
    out_json = tmp_path / "result.json"
    rc = script.main(["--run", str(tmp_path / "clean"), "--eval-episodes", "2", "--no-progress",
                      "--video-runs", str(tmp_path / "fps25"), "--json", str(out_json)])
    assert rc == 0
    out = tmp_path / "clean" / "shift_eval"
    assert (out / "shift_eval.png").stat().st_size > 0
    table = (out / "shift_eval.md").read_text()
    for row in ("in-distribution", "unseen-tracks", "domain-randomize", "trained from fps25"):
        assert f"| {row} |" in table
    result = json.loads(out_json.read_text())
    rows = {r["shift"]: r for r in result["rows"]}
    assert rows["unseen-tracks"]["seeds"] == [UNSEEN_TRACK_SEED_BASE, UNSEEN_TRACK_SEED_BASE + 1]
    assert rows["in-distribution"]["seeds"] == [0, 1]
    for row in rows.values():
        for mode in ("greedy", "sampled"):
            assert len(row[mode]["returns"]) == 2
            assert row[mode]["mean"] == pytest.approx(np.mean(row[mode]["returns"]))
    assert script.main(["--run", str(tmp_path / "missing")]) == 1


def test_every_folder_shift_is_accepted_by_the_trainer_config():
    from lfo.loop.config import TrainConfig

    assert "video_shift" in TrainConfig.__dataclass_fields__
    assert set(FOLDER_SHIFTS) == set(VIDEO_SHIFTS) | set(DEMO_SHIFTS)


# ----------------------------------------------------------------------------- tiny task
# Thresholds, from 5 seeds (0-4) of the default ToyRunConfig (notes/shifts.md):
# clean videos -> greedy score 1.00 on all 5 seeds, sampled 0.95-0.98; with 10% of actions
# replaced at random (slip 0.1) greedy 0.94 on all 5 (the expert itself loses the same:
# its score under slip 0.1 is ~0.94) and sampled 0.89-0.93. Trained from 2x upscaled
# videos: identical to clean on all 5 seeds. The asserts sit well below the worst seed.
def _toy():
    from lfo.testing import pixel_chain as toy_pixels

    world = toy_pixels.PixelChain()
    return toy_pixels, world, toy_pixels.reference_returns(world)


@pytest.mark.parametrize("seed", [0, 1])
def test_toy_agent_from_clean_videos_keeps_its_return_under_a_mild_env_shift(seed):
    tp, world, (random, expert) = _toy()
    agent = tp.train_toy(world, tp.ToyRunConfig(seed=seed))
    clean = tp.score(tp.mean_return(world, agent.policy(True), episodes=1), random, expert)
    slipped = tp.score(tp.mean_return(world, agent.policy(True), slip=0.1, episodes=50,
                                      seed=2), random, expert)
    assert clean >= 0.9
    assert slipped >= 0.8 * clean


@pytest.mark.slow
@pytest.mark.parametrize(("shift", "seed"), [("up2x", 0), ("up2x", 1), ("fps60", 0)])
def test_toy_agent_still_learns_from_upscaled_and_60fps_videos(shift, seed):
    # fps60: a 60 Hz capture of the game decoded back at the game's rate gives every game
    # frame (lfo.data.video.resample_indices takes the first capture frame at or after each
    # game frame); 5/5 seeds score 1.00 greedy, as from clean videos (notes/shifts.md)
    tp, world, (random, expert) = _toy()
    agent = tp.train_toy(world, tp.ToyRunConfig(video_shift=shift, seed=seed))
    sampled = tp.mean_return(world, agent.policy(False), episodes=50, seed=1)
    assert tp.score(sampled, random, expert) >= 0.8


@pytest.mark.xfail(strict=True, reason="known gap (notes/shifts.md): a 25 fps video decoded at "
                   "50 Hz repeats frames, and the (s, s) pairs teach 'stay'; raw-pixel "
                   "features are not brightness-invariant. When a fix makes this XPASS, "
                   "turn it into a plain test.")
@pytest.mark.slow
@pytest.mark.parametrize("shift", ["fps25", "color"])
def test_toy_agent_learns_from_frame_rate_and_colour_shifted_videos(shift):
    # over 3 seeds, sampled: one greedy episode of one seed is a lottery on colour (seeds
    # 0-3 on one machine: greedy 1.0, -0.02, -0.02, 1.0; sampled 0.59, 0.30, 0.72, 0.93;
    # fps25 sampled 0.40, -0.02, -0.02, -0.02), and a single seed flips across machines
    tp, world, (random, expert) = _toy()
    scores = []
    for seed in range(3):
        agent = tp.train_toy(world, tp.ToyRunConfig(video_shift=shift, seed=seed))
        sampled = tp.mean_return(world, agent.policy(False), episodes=50, seed=1)
        scores.append(tp.score(sampled, random, expert))
    assert np.mean(scores) >= 0.8


def test_nohud_blacks_out_exactly_the_hud_rows():
    from lfo.shifts.registry import black_bottom

    frame = np.full((96, 96, 3), 200, np.uint8)
    out = VIDEO_SHIFTS["nohud"].transform(np.random.default_rng(0))(frame)
    assert out[84:].max() == 0 and out[:84].min() == 200 and frame.min() == 200
    big = black_bottom(np.full((192, 160, 3), 9, np.uint8), 12 / 96)
    assert big[168:].max() == 0 and big[:168].min() == 9


def test_score_ratios_are_defined_for_negative_returns():
    """Pong returns are negative: the return ratio is undefined there, the score ratio not."""
    from lfo.analysis.shift_eval import add_ratios

    rows = [{"greedy": {"mean": -10.0}}, {"greedy": {"mean": -15.0}}, {"greedy": {"mean": 0.0}}]
    add_ratios(rows, ["greedy"], random_return=-20.0, expert=20.0)
    assert np.isnan(rows[1]["greedy"]["ratio"])
    assert rows[0]["greedy"]["score"] == pytest.approx(0.25)  # (-10 + 20) / 40
    assert rows[1]["greedy"]["score_ratio"] == pytest.approx(0.125 / 0.25)
    assert rows[2]["greedy"]["score_ratio"] == pytest.approx(0.5 / 0.25)
