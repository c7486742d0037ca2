"""The state estimator: its loss, a training step that learns, checkpoints and refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import encoders
import encoders.state_data as state_data
from encoders.base import EncoderError
from encoders.nets import ConvConfig, ConvEncoder, spatial_soft_argmax, unseen_edge
from encoders.registry import check_encoder_fits
from encoders.state_data import BEHAVIOURS, CodecSetting, codec_round_trip, collect, play_episode
from encoders.state_estimator import (
    StateEstimator,
    StateEstimatorArch,
    estimator_view,
    loss_weight_vector,
    masked_mse,
    r2_per_variable,
    random_shift,
    random_zoom,
    save_state_estimator,
    train_step,
    view_windows,
)
from lfo.envs.games import get_game, make_raw_env
from lfo.envs.privileged import CARRACING_STATE_NAMES
from lfo.shifts.registry import offset_crop


def tiny_estimator(outputs=CARRACING_STATE_NAMES) -> StateEstimator:
    torch.manual_seed(0)
    return StateEstimator(StateEstimatorArch(in_channels=3, size=(84, 84), widths=(8, 16, 16),
                                             hidden=32, outputs=tuple(outputs)))


def test_masked_mse_leaves_undefined_labels_out_by_hand():
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[0.0, 0.0], [0.0, 100.0]])
    valid = torch.tensor([[True, True], [True, False]])
    # var 0: (1 + 9) / 2 = 5; var 1: only the first sample, 4; mean 4.5 (the 96^2 is ignored)
    assert masked_mse(pred, target, valid).item() == pytest.approx(4.5)
    # a variable never defined in the batch adds 0, not nan
    none = torch.tensor([[True, False], [True, False]])
    assert masked_mse(pred, target, none).item() == pytest.approx(2.5)


def test_masked_mse_weights_the_variables_by_hand():
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.zeros(2, 2)
    valid = torch.ones(2, 2, dtype=torch.bool)
    # per variable: (1 + 9) / 2 = 5 and (4 + 16) / 2 = 10; weights 1 and 3: (5 + 30) / 4
    w = loss_weight_vector({"b": 3.0}, ("a", "b"))
    assert w.tolist() == [1.0, 3.0]
    assert masked_mse(pred, target, valid, w).item() == pytest.approx(8.75)
    assert masked_mse(pred, target, valid).item() == pytest.approx(7.5)
    assert loss_weight_vector({}, ("a", "b")) is None
    with pytest.raises(ValueError, match=r"unknown state variables \['c'\]"):
        loss_weight_vector({"c": 2.0}, ("a", "b"))
    with pytest.raises(ValueError, match=">= 0"):
        loss_weight_vector({"a": -1.0}, ("a", "b"))


def test_training_refuses_unknown_loss_weights_before_any_rollout(monkeypatch, tmp_path):
    import encoders.state_estimator as se

    monkeypatch.setattr(se, "collect", lambda *a, **k: pytest.fail("rollouts were played"))
    cfg = se.EstimatorTrainConfig(env="pong", out=str(tmp_path / "e.pt"),
                                  loss_weights={"ball_z": 2.0})
    with pytest.raises(ValueError, match="ball_z"):
        se.train_estimator(cfg, progress=False)


def test_r2_is_one_for_a_perfect_fit_and_zero_for_the_mean():
    target = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 4.0]])
    valid = np.ones_like(target, dtype=bool)
    assert np.allclose(r2_per_variable(target, target, valid), 1.0)
    mean = np.broadcast_to(target.mean(0), target.shape)
    assert np.allclose(r2_per_variable(mean, target, valid), 0.0)
    # a target that never varies (Breakout's paddle width over short games) has no R^2
    flat = np.c_[target[:, :1], np.full(4, 0.5)]
    r2 = r2_per_variable(flat + 0.01, flat, valid)
    assert r2[0] > 0.99 and np.isnan(r2[1])


def test_random_shift_moves_content_by_at_most_pad_pixels():
    x = torch.zeros(16, 1, 20, 20)
    x[:, :, 10, 10] = 1.0
    out = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    for img in out[:, 0]:
        r, c = np.argwhere(img.numpy() == 1.0)[0]
        assert abs(r - 10) <= 2 and abs(c - 10) <= 2
    assert random_shift(x, 0, torch.Generator()) is x


def test_training_steps_lower_the_loss_on_a_tiny_batch(one_torch_thread):
    model = tiny_estimator()
    rng = np.random.default_rng(0)
    stacks = torch.from_numpy(rng.integers(0, 256, (16, 3, 84, 84), dtype=np.uint8))
    states = torch.from_numpy(rng.normal(size=(16, len(CARRACING_STATE_NAMES))).astype(np.float32))
    valid = torch.ones_like(states, dtype=torch.bool)
    model.set_label_stats(states.numpy(), valid.numpy())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    losses = [train_step(model, opt, stacks, states, valid, shift=0, generator=gen)
              for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0]


def test_checkpoint_round_trip_and_refusals(tmp_path):
    model = tiny_estimator()
    pre = get_game("carracing").preprocess
    path = save_state_estimator(tmp_path / "est.pt", model, game="carracing", preprocess=pre)
    loaded = encoders.load(str(path))
    x = np.random.default_rng(0).integers(0, 256, (4, 3, 84, 84), dtype=np.uint8)
    assert np.allclose(loaded.encode(x), model.encode(x), atol=1e-6)
    assert loaded.spec.outputs == CARRACING_STATE_NAMES
    assert loaded.spec.feature_dim == len(CARRACING_STATE_NAMES)
    check_encoder_fits(loaded, "carracing")
    # made for another game: refused in one line
    with pytest.raises(EncoderError, match="made for carracing, not pong"):
        check_encoder_fits(loaded, "pong")
    # estimates another state than lfo.envs.privileged reads today: refused
    other = save_state_estimator(tmp_path / "old.pt", tiny_estimator(["speed", "offset"]),
                                 game="carracing", preprocess=pre)
    with pytest.raises(EncoderError, match="not carracing's state today"):
        check_encoder_fits(encoders.load(str(other)), "carracing")
    # missing or corrupt files are errors, never a random init
    with pytest.raises(EncoderError, match="not found"):
        encoders.load(str(tmp_path / "missing.pt"))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(EncoderError, match="corrupt"):
        encoders.load(str(tmp_path / "bad.pt"))


def test_privileged_encoder_is_marked_and_identity():
    from encoders.privileged import is_privileged

    enc = encoders.load("state-carracing")
    assert is_privileged(enc) and not is_privileged(tiny_estimator())
    s = np.random.default_rng(0).normal(size=(5, len(CARRACING_STATE_NAMES)))
    assert np.allclose(enc.encode(s), s)
    with pytest.raises(EncoderError, match="no privileged state reader"):
        encoders.load("state-spaceinvaders")


def test_rollouts_are_labelled_and_survive_a_codec_round_trip():
    frames, states, valid = play_episode("carracing", 5_000_000, BEHAVIOURS[0], 20)
    assert frames.shape == (21, 96, 96, 3) and states.shape == (21, len(CARRACING_STATE_NAMES))
    assert valid.all() and states[-1, 0] > 0  # the expert is moving
    decoded = codec_round_trip(frames, CodecSetting(".webm", 20, 64), fps=50.0)
    assert decoded.shape == frames.shape
    err = np.abs(decoded.astype(int) - frames.astype(int)).mean()
    assert 0.5 < err < 20  # lossy (and resized), but the same pictures


def test_cached_rollouts_are_reused_and_equal_to_fresh_ones(tmp_path, monkeypatch):
    pre = get_game("pong").preprocess
    kwargs = {"max_steps": 3, "seed": 5_000_000, "codec": True, "progress": False}
    fresh = collect("pong", pre, episodes=3, **kwargs)
    cached = collect("pong", pre, episodes=2, cache=tmp_path, **kwargs)
    folder = state_data.rollout_cache_dir(tmp_path, "pong", pre, max_steps=3,
                                          seed=5_000_000, codec=True)
    assert sorted(f.name for f in folder.iterdir()) == ["episode_00000.npz",
                                                        "episode_00001.npz"]
    played = []
    real_play = state_data.play_episode
    monkeypatch.setattr(state_data, "play_episode",
                        lambda *a, **k: played.append(a[1]) or real_play(*a, **k))
    grown = collect("pong", pre, episodes=3, cache=tmp_path, **kwargs)
    assert played == [5_000_002]  # only the episode not yet cached is played
    n2 = len(cached)
    for got in (cached, grown):  # the same frames, labels and episodes as without a cache
        k = len(got)
        assert np.array_equal(got.stacks, fresh.stacks[:k])
        assert np.array_equal(got.states, fresh.states[:k])
        assert np.array_equal(got.valid, fresh.valid[:k])
        assert np.array_equal(got.episode, fresh.episode[:k])
    assert grown.behaviour == fresh.behaviour and len(grown) == len(fresh) > n2
    # other rollout settings (here a longer cap) do not reuse these episodes
    assert state_data.rollout_cache_dir(tmp_path, "pong", pre, max_steps=4, seed=5_000_000,
                                        codec=True) != folder


def dot_frames(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Atari-like stacks: a flat grey background with one 2x2 bright dot (the 'ball'),
    labelled by the dot's row and column."""
    rng = np.random.default_rng(seed)
    stacks = np.full((n, 1, 84, 84), 100, dtype=np.uint8)
    pos = rng.integers(2, 80, size=(n, 2))
    for i, (r, c) in enumerate(pos):
        stacks[i, 0, r:r + 2, c:c + 2] = 240
    return stacks, (pos / 84.0).astype(np.float32)


def test_centred_input_finds_a_small_object_on_a_fixed_background(one_torch_thread, tmp_path):
    stacks, labels = dot_frames(256, seed=0)
    valid = np.ones_like(labels, dtype=bool)
    torch.manual_seed(0)
    model = StateEstimator(StateEstimatorArch(in_channels=1, size=(84, 84), widths=(8, 16, 16),
                                              hidden=64, outputs=("row", "col"), center=True))
    model.set_label_stats(labels, valid)
    model.set_input_stats(stacks)
    # the background maps to ~0 and the dot stands out by many spreads
    x = model.normalise_input(torch.from_numpy(stacks[:1]).float() / 255.0)
    assert abs(float(x[0, 0, 0, 0])) < 0.5 and float(x.max()) > 5.0
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    s, t, v = torch.from_numpy(stacks), torch.from_numpy(labels), torch.from_numpy(valid)
    losses = [train_step(model, opt, s[i % 8 * 32:(i % 8 + 1) * 32], t[i % 8 * 32:(i % 8 + 1) * 32],
                         v[i % 8 * 32:(i % 8 + 1) * 32], shift=0, generator=gen)
              for i in range(120)]
    assert np.mean(losses[-8:]) < 0.3 * np.mean(losses[:8])
    # the centring statistics travel with the checkpoint
    path = save_state_estimator(tmp_path / "dot.pt", model, game="pong",
                                preprocess=get_game("pong").preprocess)
    loaded = encoders.load(str(path))
    assert loaded.arch.center
    assert np.allclose(loaded.encode(stacks[:4]), model.encode(stacks[:4]), atol=1e-5)


def test_an_estimator_with_its_own_view_records_it_and_the_pipeline_uses_it(tmp_path):
    from encoders.clip_features import encoder_view
    from lfo.envs.games import make_env

    game = get_game("breakout").preprocess
    assert estimator_view(game, None, None) == game
    wide = estimator_view(game, (0, 200, 6, 154), (100, 148))
    assert wide.crop == (0, 200, 6, 154) and wide.size == (100, 148)
    assert (wide.grayscale, wide.stack) == (game.grayscale, game.stack)
    with pytest.raises(ValueError, match="outside the game's 210x160 frame"):
        estimator_view(game, (0, 196, 8, 170), None, get_game("breakout").native_size)
    with pytest.raises(ValueError, match="empty"):
        estimator_view(game, (50, 40, 8, 152), None)
    torch.manual_seed(0)
    # a view the convolutions do not cover to its edge is refused (the paddle's rows would
    # be invisible): 98 rows leave the last 6 unread, 100 none
    assert unseen_edge((84, 84)) == (0, 0) and unseen_edge((100, 148)) == (0, 0)
    assert unseen_edge((98, 144)) == (6, 4)
    with pytest.raises(ValueError, match="last 6 rows and 4 columns outside every convolution"):
        StateEstimator(StateEstimatorArch(in_channels=4, size=(98, 144), outputs=("a",)))
    with pytest.raises(ValueError, match="outside every convolution"):  # the shared stack
        ConvEncoder(ConvConfig(in_channels=4, size=(98, 144)))
    with pytest.raises(ValueError, match="outside every convolution"):
        estimator_view(game, (0, 196, 8, 152), (98, 144))
    model = StateEstimator(StateEstimatorArch(in_channels=4, size=(100, 148), widths=(8, 16, 16),
                                              hidden=16, outputs=("a", "b"), center=True))
    path = save_state_estimator(tmp_path / "wide.pt", model, game="breakout", preprocess=wide)
    loaded = encoders.load(str(path))
    view = encoder_view(loaded, "breakout")
    assert view == wide  # clips and the agent's frames are both made with this view
    env = make_env("breakout", seed=0, preprocess=view)
    obs, _ = env.reset(seed=0)
    env.close()
    assert obs.shape == (4, 100, 148)
    assert loaded.encode(obs[None]).shape == (1, 2)
    # a longer stack than the game's: recorded, and the agent's frames follow it
    long = estimator_view(game, None, None, stack=8)
    assert long.stack == 8 and long.size == game.size
    with pytest.raises(ValueError, match="stack must be >= 1"):
        estimator_view(game, None, None, stack=0)
    model = StateEstimator(StateEstimatorArch(in_channels=8, widths=(8, 16, 16), hidden=16,
                                              outputs=("a", "b"), center=True))
    path = save_state_estimator(tmp_path / "long.pt", model, game="breakout", preprocess=long)
    loaded = encoders.load(str(path))
    env = make_env("breakout", seed=0, preprocess=encoder_view(loaded, "breakout"))
    obs, _ = env.reset(seed=0)
    env.close()
    assert obs.shape == (8, 84, 84)
    assert loaded.encode(obs[None]).shape == (1, 2)


def test_spatial_soft_argmax_by_hand():
    logits = torch.full((1, 2, 3, 4), -1e4)
    logits[0, 0, 1, 2] = logits[0, 0, 1, 3] = 0.0  # two equal peaks, row 1, columns 2 and 3
    logits[0, 1] = 0.0  # flat: no spot stands out
    pos, peak = spatial_soft_argmax(logits)
    assert pos.shape == (1, 2, 2) and peak.shape == (1, 2)
    assert torch.allclose(pos[0, 0], torch.tensor([2.5, 1.0]))  # (x, y), between the peaks
    assert peak[0, 0].item() == pytest.approx(0.5)
    assert torch.allclose(pos[0, 1], torch.tensor([1.5, 1.0]))  # the map's centre
    assert peak[0, 1].item() == pytest.approx(1 / 12)


def keypoint_estimator(frames: int = 2, keypoints: int = 1, width: int = 2) -> StateEstimator:
    torch.manual_seed(0)
    return StateEstimator(StateEstimatorArch(in_channels=frames, size=(52, 52), widths=(8, 16, 16),
                                             hidden=32, outputs=("row", "col"), center=True,
                                             keypoints=keypoints, detector_width=width))


def test_keypoints_locate_each_frame_s_object_to_the_pixel():
    model = keypoint_estimator(frames=2, width=2)
    with torch.no_grad():  # hand-set detector: map f = 50 x frame f
        conv, _, readout = model.detector
        conv.weight.zero_(), conv.bias.zero_(), readout.bias.zero_()
        conv.weight[0, 0, 2, 2] = conv.weight[1, 1, 2, 2] = 1.0
        readout.weight.copy_(50.0 * torch.eye(2)[:, :, None, None])
    x = torch.zeros(1, 2, 52, 52)
    x[0, 0, 10, 30] = 1.0  # frame 0: a dot at row 10, column 30
    x[0, 1, 40, 7:9] = 1.0  # frame 1: a 2-pixel dot at row 40, columns 7-8
    f = model.keypoint_features(x).reshape(2, 3)  # per frame (x, y) in [-1, 1], peak
    scale = lambda px: 2 * px / 51 - 1  # noqa: E731
    assert torch.allclose(f[0, :2], torch.tensor([scale(30), scale(10)]), atol=1e-4)
    assert torch.allclose(f[1, :2], torch.tensor([scale(7.5), scale(40)]), atol=1e-4)
    assert f[0, 2].item() == pytest.approx(1.0, abs=1e-4)
    assert f[1, 2].item() == pytest.approx(0.5, abs=1e-4)
    assert model.standardised(x, normalised=True).shape == (1, 2)


def test_a_keypoint_estimator_learns_where_a_dot_is_and_round_trips(one_torch_thread, tmp_path):
    rng = np.random.default_rng(0)
    stacks = np.zeros((192, 1, 52, 52), dtype=np.uint8)
    pos = rng.integers(2, 50, size=(192, 2))
    stacks[np.arange(192), 0, pos[:, 0], pos[:, 1]] = 255
    labels, valid = pos.astype(np.float32), np.ones(pos.shape, dtype=bool)
    s, t, v = (torch.from_numpy(a) for a in (stacks, labels, valid))

    def held_out_error(model: StateEstimator) -> float:
        model.set_label_stats(labels[:160], valid[:160])
        model.set_input_stats(stacks[:160])
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        gen = torch.Generator().manual_seed(0)
        for i in range(150):
            b = slice(i % 5 * 32, (i % 5 + 1) * 32)
            train_step(model, opt, s[b], t[b], v[b], shift=0, generator=gen,
                       keypoint_weight=1.0)
        # median pixel error on 32 held-out frames (a guess at the centre: ~12)
        return float(np.median(np.abs(model.encode(stacks[160:]) - labels[160:])))

    model = keypoint_estimator(frames=1, width=4)
    err, plain_err = held_out_error(model), held_out_error(keypoint_estimator(1, keypoints=0))
    assert err < plain_err, (err, plain_err)
    # the detector, taught by the regression loss alone, found the dot: one spot holds most
    # of each map, and a linear read of the keypoints is exact to a fraction of a pixel
    with torch.no_grad():
        points = model.keypoint_features(model.normalise_input(s.float() / 255.0)).numpy()
    assert points[:, 2].mean() > 20 / 52**2  # a flat map: 1 / 52^2
    design = np.c_[points, np.ones(len(points))]
    coef = np.linalg.lstsq(design[:160], labels[:160], rcond=None)[0]
    assert np.median(np.abs(design[160:] @ coef - labels[160:])) < 0.5
    path = save_state_estimator(tmp_path / "kp.pt", model, game="pong",
                                preprocess=get_game("pong").preprocess)
    loaded = encoders.load(str(path))
    assert loaded.arch.keypoints == 1
    assert np.allclose(loaded.encode(stacks[:4]), model.encode(stacks[:4]), atol=1e-5)
    # an estimator without keypoints keeps the architecture record it had before them
    assert "keypoints" not in tiny_estimator().arch.record()


def test_randomised_colour_rollouts_every_third_episode_and_their_own_cache(tmp_path,
                                                                              monkeypatch):
    assert [state_data.randomized_colours(i, 3) for i in range(6)] == [
        False, False, True, False, False, True]
    assert not any(state_data.randomized_colours(i, 0) for i in range(6))
    with pytest.raises(ValueError, match="randomize_every"):
        state_data.randomized_colours(0, -1)
    options_seen = []
    real_play = state_data.play_episode
    monkeypatch.setattr(state_data, "play_episode",
                        lambda *a, **k: options_seen.append(a[4]) or real_play(*a, **k))
    pre = get_game("carracing").preprocess
    kwargs = {"max_steps": 2, "seed": 5_000_000, "codec": False, "progress": False}
    plain = collect("carracing", pre, episodes=2, **kwargs)
    options_seen.clear()
    mixed = collect("carracing", pre, episodes=2, randomize_every=2, cache=tmp_path, **kwargs)
    assert options_seen == [None, {"domain_randomize": True}]
    assert np.array_equal(mixed.stacks[:3], plain.stacks[:3])  # episode 0: stock colours
    grass = (slice(None), -1, slice(0, 30))  # the picture's top: grass around the start
    assert np.abs(mixed.stacks[3:][grass].astype(float).mean()
                  - plain.stacks[3:][grass].astype(float).mean()) > 5  # episode 1 recoloured
    assert np.array_equal(mixed.episode, plain.episode)
    # a cache of randomised rollouts is not a stock one (and a stock key is as before)
    stock = state_data.rollout_cache_dir(tmp_path, "carracing", pre, max_steps=2,
                                         seed=5_000_000, codec=False)
    assert not stock.exists() and len(list(tmp_path.iterdir())) == 1
    with pytest.raises(ValueError, match="domain_randomize"):
        collect("pong", get_game("pong").preprocess, episodes=1, randomize_every=2, **kwargs)


def test_hud_band_visibility_by_hand_and_against_the_nohud_shift():
    from encoders.state_estimator import bottom_band_visibility
    from lfo.shifts.registry import black_bottom

    # 8 rows, a quarter black: rows 6 and 7 gone; a band of 3/16 straddles row 6: kept
    assert bottom_band_visibility(8, 0.25)[:, 0].tolist() == [1, 1, 1, 1, 1, 1, 0, 0]
    assert bottom_band_visibility(8, 3 / 16)[:, 0].tolist() == [1, 1, 1, 1, 1, 1, 1, 0]
    with pytest.raises(ValueError, match="fraction"):
        bottom_band_visibility(8, 1.0)
    # a real CarRacing view times the band's visibility is the view of its nohud copy
    env = make_raw_env("carracing", seed=3)
    frame, _ = env.reset(seed=3)
    for action in [3] * 60 + [1] * 10:  # moving and steering: the HUD bars are drawn
        frame, *_ = env.step(action)
    frames = np.stack([frame] * 3)
    assert frames[:, 84:].max() > 0
    pre = get_game("carracing").preprocess
    view = pre.clip(frames)[-1].astype(float)
    masked = pre.clip(black_bottom(frames, 12 / 96))[-1].astype(float)
    keep = bottom_band_visibility(84, 12 / 96).numpy()
    assert np.array_equal(view * keep, masked)
    assert keep[:74].min() == 1 and keep[74:].max() == 0
    assert not np.array_equal(view, masked)


def test_view_augmentation_darkens_the_band_on_a_share_and_scales_intensity():
    from encoders.state_estimator import augment_views

    gen = torch.Generator().manual_seed(0)
    x = torch.full((2000, 3, 84, 84), 0.6)
    out = augment_views(x, gen, band_prob=0.3, band_fraction=12 / 96)
    banded = (out[:, :, 80] == 0).all(dim=(1, 2))
    assert 0.25 < banded.float().mean() < 0.35  # the share asked for
    assert torch.equal(out[~banded], x[~banded])  # the others untouched
    assert (out[banded][:, :, :74] == 0.6).all()  # the band only
    # every frame of a stack shares its sample's contrast and brightness
    jit = augment_views(torch.rand(500, 3, 8, 8) * 0.2 + 0.4, gen, intensity=0.2)
    centre = jit.mean(dim=(2, 3))
    assert torch.allclose(centre[:, 0], centre[:, 1], atol=0.05)
    assert 0.3 < centre.min() and centre.max() < 0.75 and centre.std() > 0.03
    assert torch.equal(augment_views(x[:4], gen), x[:4])  # nothing asked, nothing changed


def test_a_view_window_is_the_crop_shift_and_random_zoom_draws_windows_on_a_share():
    # a smooth native frame: the window 0.08 off the top and the left, resized back, is
    # what the crop video shift makes of it (up to the two resizers' rounding)
    rows, cols = np.mgrid[0:96, 0:96]
    grey = (127 + 60 * np.sin(cols / 9.0) + 50 * np.cos(rows / 7.0)).astype(np.uint8)
    frame = np.stack([grey, grey[::-1], grey.T], axis=-1)[None]
    shifted = offset_crop(frame, 0.08)[0].astype(np.float32)
    x = torch.from_numpy(frame.astype(np.float32)).permute(0, 3, 1, 2)
    share = torch.tensor([round(96 * 0.08) / 96])
    windowed = view_windows(x, share, share, share)[0].permute(1, 2, 0).numpy()
    assert np.abs(windowed - shifted).mean() < 0.5
    assert np.abs(windowed - frame[0].astype(np.float32)).mean() > 10  # it did move
    # a column ramp stays a ramp, its slope the window's side, within [1 - max_cut, 1]
    ramp = torch.arange(84.0).expand(400, 1, 84, 84).contiguous()
    out = random_zoom(ramp, 0.5, 0.12, torch.Generator().manual_seed(0))
    slope = (out[:, 0, 40, 50] - out[:, 0, 40, 30]) / 20
    zoomed = (slope - 1).abs() > 1e-4
    assert 0.4 < zoomed.float().mean() < 0.6  # the share asked for
    assert torch.equal(out[~zoomed], ramp[~zoomed])  # the others untouched
    assert slope.min() >= 0.88 - 1e-4 and slope[zoomed].max() < 1.0
    assert torch.allclose(out[:, 0, 10], out[:, 0, 70])  # the same window on every row
    with pytest.raises(ValueError, match="0.5"):
        random_zoom(ramp, 0.5, 0.6, torch.Generator())
