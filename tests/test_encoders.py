"""Encoder interface, registry, shipped weights and their failure modes."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest
import torch

import encoders
from encoders import EncoderError, registry
from encoders.base import write_manifest_entry
from encoders.registry import build_conv, load_checkpoint, save_checkpoint
from lfo.envs.games import get_game, make_raw_env
from lfo.shifts.registry import offset_crop


def _frames(n: int, shape=(3, 84, 84), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def test_encode_shapes_dtypes_and_forward_agree():
    enc = encoders.load("random-carracing")
    assert not enc.training
    spec = enc.spec
    assert spec.input_shape == get_game("carracing").preprocess.stacked_shape
    x = _frames(5)
    out = enc.encode(x, batch_size=2)  # several batches
    assert out.shape == (5, spec.feature_dim) and out.dtype == np.float32
    with torch.no_grad():
        via_uint8 = enc(torch.from_numpy(x))
        via_float = enc(torch.from_numpy(x).float())  # float input on the same 0..255 scale
    np.testing.assert_allclose(via_uint8.numpy(), out, atol=1e-5)
    np.testing.assert_allclose(via_float.numpy(), out, atol=1e-5)
    assert enc.encode(x[:0]).shape == (0, spec.feature_dim)


def test_wrong_input_shape_and_dtype_are_errors():
    enc = encoders.load("random-pong")
    with pytest.raises(ValueError, match="expects"):
        enc(torch.zeros(1, 3, 84, 84))
    with pytest.raises(TypeError, match="uint8"):
        enc.encode(np.zeros((1, 4, 84, 84), dtype=np.float32))


def test_determinism_and_id_follow_weights():
    a, b = build_conv("carracing", seed=0), build_conv("carracing", seed=0)
    c = build_conv("carracing", seed=1)
    x = _frames(3)
    np.testing.assert_array_equal(a.encode(x), b.encode(x))
    np.testing.assert_array_equal(a.encode(x), a.encode(x))
    assert a.spec.id == b.spec.id != c.spec.id
    assert not np.allclose(a.encode(x), c.encode(x))


def test_checkpoint_round_trip_offline(tmp_path, monkeypatch):
    enc = build_conv("carracing", seed=3)
    path = save_checkpoint(tmp_path / "e.pt", enc, game="carracing",
                           preprocess=get_game("carracing").preprocess, meta={"note": 1})

    def no_network(*args, **kwargs):
        raise AssertionError("encoder loading touched the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    loaded = encoders.load(str(path))
    x = _frames(4)
    np.testing.assert_array_equal(loaded.encode(x), enc.encode(x))
    from encoders.base import preprocess_dict

    assert loaded.spec.preprocess == preprocess_dict(get_game("carracing").preprocess)
    assert loaded.spec.preprocess["stack"] == 3
    # the id changes with the weights, and with the preprocessing the encoder expects
    enc2 = build_conv("carracing", seed=4)
    path2 = save_checkpoint(tmp_path / "f.pt", enc2, game="carracing",
                            preprocess=get_game("carracing").preprocess)
    assert encoders.load(str(path2)).spec.id != loaded.spec.id
    from encoders.pretrain import view

    path3 = save_checkpoint(tmp_path / "g.pt", enc, game="carracing",
                            preprocess=view("carracing", "nohud"))
    assert encoders.load(str(path3)).spec.id != loaded.spec.id


@pytest.mark.parametrize("game", ["carracing", "pong"])
def test_shipped_default_loads_offline(game, monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: pytest.fail("network"))
    name = encoders.default_for(game)
    if not registry.default_weights(game).exists():
        pytest.skip(f"{name} weights not shipped")
    enc = encoders.load(name)
    assert enc.spec.name == name
    assert enc.spec.input_shape == get_game(game).preprocess.stacked_shape
    from encoders.base import preprocess_dict

    # trained on the game's current view (else its features would be meaningless)
    assert enc.spec.preprocess == preprocess_dict(get_game(game).preprocess)
    out = enc.encode(_frames(2, enc.spec.input_shape))
    assert out.shape == (2, enc.spec.feature_dim) and np.isfinite(out).all()
    # pretrained, not a fresh random init of the same architecture
    assert enc.spec.id != build_conv(game).spec.id


def test_missing_and_corrupt_weights_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(EncoderError, match="not found"):
        encoders.load(str(tmp_path / "absent.pt"))
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(EncoderError, match="missing.*pretrain_state_encoder.py"):
        encoders.load("default-carracing")
    with pytest.raises(EncoderError, match="missing.*pretrain_encoder.py"):
        encoders.load("ssl-carracing")
    # a truncated checkpoint
    good = save_checkpoint(tmp_path / "carracing.pt", build_conv("carracing"), game="carracing",
                           preprocess=get_game("carracing").preprocess)
    write_manifest_entry(good)
    assert encoders.load("ssl-carracing").spec.name == "ssl-carracing"
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    with pytest.raises(EncoderError, match="corrupt"):
        encoders.load("ssl-carracing")
    # bytes flipped in place (same length): caught by the manifest's SHA-256
    good.write_bytes(data[:-10] + bytes(10))
    with pytest.raises(EncoderError, match="corrupt"):
        encoders.load("ssl-carracing")
    # not a checkpoint at all, outside the manifest
    junk = tmp_path / "junk.pt"
    junk.write_text("hello")
    with pytest.raises(EncoderError, match="corrupt"):
        encoders.load(str(junk))
    json.loads((tmp_path / "MANIFEST.json").read_text())  # manifest stays valid JSON


def test_unknown_name_lists_available():
    with pytest.raises(EncoderError, match="available"):
        encoders.load("nope")
    assert {"default-carracing", "ssl-carracing", "state-carracing"} <= set(encoders.available())
    assert encoders.default_for("carracing") == "default-carracing"
    assert encoders.default_for("ALE/Pong-v5") == "default-pong"
    assert encoders.default_for("breakout") == "default-breakout"
    assert encoders.load("default-atari").spec.game == "pong"  # old name of ssl-atari


def test_resnet18_needs_a_weights_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(EncoderError, match="weights=PATH"):
        encoders.load("resnet18")
    from torchvision.models import resnet18

    path = tmp_path / "r18.pth"
    torch.save(resnet18(weights=None).state_dict(), path)
    enc = encoders.load("resnet18-pong", weights=str(path))
    assert enc.spec.input_shape == (4, 84, 84) and enc.spec.feature_dim == 4 * 512
    out = enc.encode(_frames(2, (4, 84, 84)))
    assert out.shape == (2, 2048) and out.dtype == np.float32
    (tmp_path / "bad.pth").write_bytes(b"\x00" * 100)
    with pytest.raises(EncoderError, match="corrupt"):
        encoders.load("resnet18", weights=str(tmp_path / "bad.pth"))


def test_pixel_baseline_is_area_downsampling():
    enc = encoders.load("pixels-carracing")
    x = np.zeros((1, 3, 84, 84), dtype=np.uint8)
    x[0, 2, :4, :4] = 255  # exactly one 4x4 pooling cell of the last frame
    out = enc.encode(x)
    assert out.shape == (1, 3 * 21 * 21)
    assert out[0, 2 * 441] == pytest.approx(1.0) and out.sum() == pytest.approx(1.0)


def test_checkpoint_loader_rejects_foreign_files(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(EncoderError, match="not an lfo encoder checkpoint"):
        load_checkpoint(path)


def test_pretraining_is_seeded_and_reproducible():
    """Two short pretraining runs with the same seed give identical weights."""
    from encoders.base import state_digest
    from encoders.pretrain import Episodes, PretrainConfig, pretrain

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (12, 1, 84, 84), dtype=np.uint8) for _ in range(3)]
    actions = [rng.integers(0, 5, 11) for _ in range(3)]
    play = Episodes.from_lists(frames, actions)
    video = Episodes.from_lists(frames[:2], None)
    cfg = PretrainConfig(steps=2, batch=4, w_fwd=1.0, threads=1)
    digests = []
    for _ in range(2):
        enc, rows = pretrain(cfg, video, play, log=lambda _: None)
        digests.append(state_digest(enc.state_dict()))
        assert rows and np.isfinite(rows[-1]["loss"])
    assert digests[0] == digests[1]
    assert digests[0] != state_digest(build_conv("carracing", seed=0).state_dict())


def test_centered_encoder_subtracts_its_background_and_round_trips(tmp_path):
    """A ``center`` encoder sees input minus the median frame; checkpoints keep it."""
    pre = get_game("pong").preprocess
    plain = build_conv("pong", seed=2, center=False, head="flatten")
    centred = build_conv("pong", seed=2, center=True, head="flatten")
    assert "center" not in plain.config_dict()  # ids of older checkpoints unchanged
    assert centred.spec.id != plain.spec.id
    single = _frames(9, (1, 84, 84), seed=5)
    centred.set_background(single)
    median = np.median(single.astype(np.float32), axis=0)
    # at init (zero biases) the background itself maps to all-zero features; the
    # plain net sees no difference between background and objects until it learns
    stack = np.repeat(median.astype(np.uint8)[None], 4, axis=1)  # odd count: exact median
    np.testing.assert_allclose(centred.encode(stack), 0.0, atol=1e-6)
    assert np.abs(plain.encode(stack)).max() > 0.1
    moved = stack.copy()
    moved[0, -1, 40:44, 40:42] = 255  # a "ball" appears
    assert np.abs(centred.encode(moved)).max() > 0.1
    path = save_checkpoint(tmp_path / "c.pt", centred, game="pong", preprocess=pre)
    loaded = encoders.load(str(path))
    x = _frames(3, (4, 84, 84))
    np.testing.assert_array_equal(loaded.encode(x), centred.encode(x))
    centred.set_background(_frames(9, (1, 84, 84), seed=6))
    other = save_checkpoint(tmp_path / "d.pt", centred, game="pong", preprocess=pre)
    assert encoders.load(str(other)).spec.id != loaded.spec.id
    with pytest.raises(ValueError, match="center"):
        plain.set_background(single)


def test_recon_loss_weights_foreground_pixels():
    from encoders.pretrain import recon_loss

    target = torch.zeros(1, 1, 4, 4)
    target[0, 0, 0, 0] = 0.5  # one foreground pixel
    miss_fg = torch.zeros_like(target)  # misses the object
    miss_bg = target.clone()
    miss_bg[0, 0, 3, 3] = 0.5  # same squared error, on a background pixel
    assert recon_loss(target, target, 10.0).item() == 0.0
    assert recon_loss(miss_fg, target, 10.0).item() == pytest.approx(11 * 0.25 / 16)
    assert recon_loss(miss_bg, target, 10.0).item() == pytest.approx(0.25 / 16)


def test_centered_recon_pretraining_runs_and_is_seeded():
    from encoders.base import state_digest
    from encoders.pretrain import Episodes, PretrainConfig, pretrain

    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (12, 1, 84, 84), dtype=np.uint8) for _ in range(3)]
    actions = [rng.integers(0, 6, 11) for _ in range(3)]
    play = Episodes.from_lists(frames, actions)
    cfg = PretrainConfig(env="pong", steps=2, batch=4, max_gap=3, w_recon=1.0, threads=1,
                         center=True)
    digests = []
    for _ in range(2):
        enc, rows = pretrain(cfg, None, play, log=lambda _: None)
        digests.append(state_digest(enc.state_dict()))
        assert "recon" in rows[-1] and np.isfinite(rows[-1]["loss"])
    assert digests[0] == digests[1]
    expected = np.median(play.frames.astype(np.float32), axis=0) / 255.0
    np.testing.assert_allclose(enc.background[0, -1].numpy(), expected[0], atol=1e-6)


def test_a_state_estimator_is_refused_for_another_game_of_its_family():
    if not registry.default_weights("pong").exists():
        pytest.skip("default-pong weights not shipped")
    from encoders.registry import check_encoder_fits

    estimator = encoders.load("default-pong")
    check_encoder_fits(estimator, "pong")
    with pytest.raises(EncoderError, match="made for pong, not breakout"):
        check_encoder_fits(estimator, "breakout")
    with pytest.raises(EncoderError, match="made for pong, not carracing"):
        check_encoder_fits(estimator, "carracing")
    check_encoder_fits(encoders.load("ssl-atari"), "breakout")  # the family's CNN serves both


def test_the_robust_carracing_estimator_ships_and_reads_a_hud_less_frame_like_a_full_one():
    """v2 (``robust-carracing``) was trained with the HUD blacked out on part of its frames:
    on a moving car its speed from a HUD-less view stays near the full view's, where v1
    (``carracing-v1``), which reads the HUD's speed bar, loses it."""
    from encoders.state_estimator import bottom_band_visibility
    from lfo.envs.games import make_raw_env

    robust = encoders.load("robust-carracing")
    assert robust.spec.name == "robust-carracing" and robust.spec.game == "carracing"
    assert robust.spec.preprocess == encoders.load("default-carracing").spec.preprocess
    env = make_raw_env("carracing", seed=11)
    env.reset(seed=11)
    frames = [env.step(3)[0] for _ in range(80)]  # gas from the start: ~40 units/s
    view = get_game("carracing").preprocess.clip(np.stack(frames[-3:]))[-1:]
    hudless = (view * bottom_band_visibility(84, 12 / 96).numpy()).astype(np.uint8)
    speed = {name: [float(encoders.load(name).encode(x)[0, 0]) for x in (view, hudless)]
             for name in ("robust-carracing", "carracing-v1")}
    full, masked = speed["robust-carracing"]
    assert full > 0.2 and abs(masked - full) < 0.25 * full
    v1_full, v1_masked = speed["carracing-v1"]
    assert abs(v1_masked - v1_full) > 2 * abs(masked - full)


def test_the_zoom_carracing_estimator_reads_a_cropped_capture_like_the_full_one():
    """v4 (``zoom-carracing``) was trained on random windows of its view: a moving car's
    speed from the crop shift's picture (0.08 off the top and the left, zoomed back) stays
    near the full view's, where v3 (``default-carracing``), which reads the speed bar at
    its fixed place, loses about half of it."""
    zoom = encoders.load("zoom-carracing")
    assert zoom.spec.name == "zoom-carracing" and zoom.spec.game == "carracing"
    assert zoom.spec.preprocess == encoders.load("default-carracing").spec.preprocess
    env = make_raw_env("carracing", seed=11)
    env.reset(seed=11)
    frames = np.stack([env.step(3)[0] for _ in range(80)][-4:])  # gas from the start
    pre = get_game("carracing").preprocess
    views = (pre.clip(frames)[-1:], pre.clip(offset_crop(frames, 0.08))[-1:])
    speed = {name: [float(encoders.load(name).encode(x)[0, 0]) for x in views]
             for name in ("zoom-carracing", "default-carracing")}
    full, cropped = speed["zoom-carracing"]
    assert full > 0.2 and abs(cropped - full) < 0.2 * full
    v3_full, v3_cropped = speed["default-carracing"]
    assert abs(v3_cropped - v3_full) > 2 * abs(cropped - full)


def test_a_run_loads_the_weights_it_recorded_when_its_encoder_name_moved_on(tmp_path):
    """A game's default can move on to new weights; a run folder records the name and the
    weights' id, and resolves to the shipped encoder that still has them."""
    from lfo.loop.config import load_run_config

    robust_id = encoders.load("robust-carracing").spec.id
    default_id = encoders.load("default-carracing").spec.id
    assert robust_id != default_id
    assert registry.shipped_with_id(robust_id) == "robust-carracing"
    assert registry.shipped_with_id("no-such-id") is None
    # the name still loads the recorded weights: itself; no id recorded: itself
    assert registry.resolve_recorded("default-carracing", default_id) == "default-carracing"
    assert registry.resolve_recorded("default-carracing", None) == "default-carracing"
    # recorded under a name that now loads other weights: the shipped file with that id
    assert registry.resolve_recorded("default-carracing", robust_id) == "robust-carracing"
    with pytest.raises(EncoderError, match="no shipped encoder has that id"):
        registry.resolve_recorded("default-carracing", "0123456789abcdef")
    # CarRacing's default moved from v1 to v3 (2026-12-06): a v1 run resolves to v1's file
    v1_id = encoders.load("carracing-v1").spec.id
    assert v1_id != default_id
    assert registry.resolve_recorded("default-carracing", v1_id) == "carracing-v1"
    # resuming such a run trains on the weights it started with
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(
        {"videos": "videos/carracing", "game": "carracing", "encoder": "default-carracing",
         "encoder_id": robust_id}))
    assert load_run_config(run).encoder == "robust-carracing"
    (run / "config.json").write_text(json.dumps(
        {"videos": "videos/carracing", "game": "carracing", "encoder": "default-carracing",
         "encoder_id": "0123456789abcdef"}))
    with pytest.raises(RuntimeError, match="cannot resume"):
        load_run_config(run)
