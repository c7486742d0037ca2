"""The shared Preprocess: shapes, stacking, and video == live env equivalence."""

from __future__ import annotations

import numpy as np
import pytest

from lfo.data.preprocess import Preprocess
from lfo.data.video import probe_files, read_clip, write_clip
from lfo.envs.games import get_game, make_env, make_raw_env


def test_frame_crop_resize_grey_shapes():
    rgb = np.zeros((96, 96, 3), np.uint8)
    rgb[84:] = 255  # a white "HUD" strip at the bottom
    pre = Preprocess(crop=(0, 84, 0, 96), size=(42, 48), grayscale=True, stack=3)
    out = pre.frame(rgb)
    assert out.shape == (1, 42, 48) and out.dtype == np.uint8
    assert out.max() == 0  # the strip was cropped away before resizing
    colour = Preprocess(crop=None, size=(10, 12), grayscale=False, stack=2)
    assert colour.frame(rgb).shape == (3, 10, 12)
    assert colour.stacked_shape == (6, 10, 12)


def test_stack_frames_is_oldest_first_and_repeats_the_first_frame():
    pre = Preprocess(size=(2, 2), stack=3)
    frames = np.arange(4, dtype=np.uint8)[:, None, None, None] * np.ones((4, 1, 2, 2), np.uint8)
    stacked = pre.stack_frames(frames)
    assert stacked.shape == (4, 3, 2, 2)
    assert stacked[:, :, 0, 0].tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2], [1, 2, 3]]


def test_mask_blacks_out_boxes_before_resizing():
    rgb = np.full((96, 96, 3), 200, np.uint8)
    pre = Preprocess(mask=((84, 96, 16, 96),), size=(96, 96), grayscale=True, stack=1)
    out = pre.frame(rgb)[0]
    assert out[84:, 16:].max() == 0 and out[84:, :16].min() == 200 and out[:84].min() == 200
    assert rgb.min() == 200  # the caller's frame is untouched


def test_carracing_view_keeps_the_hud_state_bars():
    """The default view shows the HUD (speed, ABS, steering angle, gyro: car state, not
    keys); the ``nohud`` view of the old self-supervised encoder masks them."""
    from encoders.pretrain import view as named_view
    from lfo.envs.games import CARRACING_HUD_STATE_BARS

    env = make_raw_env("carracing")
    env.reset(seed=0)
    for _ in range(60):
        frame = env.step(3)[0]  # gas: the speed and ABS bars grow
    for _ in range(5):
        frame = env.step(2)[0]  # steer left: the steering and gyro bars show it
    top, bottom, left, right = CARRACING_HUD_STATE_BARS
    assert frame[top:bottom, left:right].max() > 0
    view = get_game("carracing").preprocess
    masked = frame.copy()
    masked[top:bottom, left:right] = 0
    assert not np.array_equal(view.frame(frame), view.frame(masked))  # the bars are seen
    nohud = named_view("carracing", "nohud")
    assert nohud.frame(frame).shape == view.frame(frame).shape


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError):
        Preprocess(stack=0)
    with pytest.raises(ValueError):
        Preprocess(crop=(10, 5, 0, 4))
    with pytest.raises(ValueError, match="exceeds"):
        Preprocess(crop=(0, 200, 0, 10)).frame(np.zeros((96, 96, 3), np.uint8))
    with pytest.raises(ValueError, match="RGB"):
        Preprocess().frame(np.zeros((96, 96), np.uint8))


@pytest.mark.parametrize("game", ["carracing", "pong"])
def test_env_observations_equal_preprocessed_raw_frames(game):
    """The env wrapper and Preprocess.clip see the same game identically (no codec)."""
    spec = get_game(game)
    raw, wrapped = make_raw_env(game), make_env(game)
    raw_obs, _ = raw.reset(seed=3)
    obs, _ = wrapped.reset(seed=3)
    raw_frames, env_obs = [raw_obs], [obs]
    for t in range(12):
        action = (t % (raw.action_space.n - 1)) + 1
        raw_frames.append(raw.step(action)[0])
        env_obs.append(wrapped.step(action)[0])
    expected = spec.preprocess.clip(np.stack(raw_frames))
    np.testing.assert_array_equal(np.stack(env_obs), expected)
    assert expected.shape[1:] == spec.preprocess.stacked_shape


def test_video_of_env_frames_decodes_to_the_live_observations(tmp_path):
    """An env episode written to mp4 and decoded back matches the live view within codec error."""
    spec = get_game("carracing")
    env = make_raw_env("carracing")
    live = make_env("carracing")
    frames = [env.reset(seed=5)[0]]
    live_obs = [live.reset(seed=5)[0]]
    for t in range(60):
        action = 3 if t % 3 else 2  # gas, with some steering
        frames.append(env.step(action)[0])
        live_obs.append(live.step(action)[0])
    path = write_clip(tmp_path / "episode.mp4", np.stack(frames), fps=spec.control_hz())
    (clip,) = probe_files([path])
    decoded = read_clip(clip, fps=spec.control_hz(), size=spec.native_size)
    assert len(decoded) == len(frames)
    from_video = spec.preprocess.clip(decoded).astype(float)
    error = np.abs(from_video - np.stack(live_obs).astype(float))
    assert error.mean() < 3.0, error.mean()  # lossy codec: never exact
    assert np.percentile(error, 99) < 25


def test_object_view_removes_the_codec_gap_on_pong(tmp_path):
    """Pong through H.264: grey frames come back shifted by ~1 level almost everywhere
    (which makes decoded clips separable from live play); the object view agrees."""
    spec = get_game("pong")
    env = make_raw_env("pong")
    frames = [env.reset(seed=3)[0]]
    for t in range(80):
        frames.append(env.step(t % 6)[0])
    frames = np.stack(frames)
    path = write_clip(tmp_path / "pong.mp4", frames, fps=spec.control_hz(), crf=20)
    (clip,) = probe_files([path])
    decoded = read_clip(clip, fps=spec.control_hz(), size=spec.native_size)
    grey = spec.preprocess
    objects = Preprocess(size=grey.size, stack=1, objects=16)
    grey_changed = np.mean(grey.frames(decoded) != grey.frames(frames))
    objects_changed = np.mean(objects.frames(decoded) != objects.frames(frames))
    assert grey_changed > 0.5  # measured ~0.9: a field-wide shift
    assert objects_changed < 0.01  # measured ~0.003
    mask = objects.frames(frames)
    # walls, score, paddles and ball: ~16% of the pixels
    assert set(np.unique(mask)) <= {0, 255} and 0 < mask.mean() < 0.25 * 255
    with pytest.raises(ValueError, match="objects"):
        Preprocess(grayscale=False, objects=16)
