"""Per-clip features: chunked stacking and the on-disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from encoders.clip_features import cache_key, clip_features, iter_stacked_chunks
from encoders.registry import build_conv
from lfo.data.video import probe_files, read_clip, write_clip
from lfo.envs.games import get_game


class CountingEncoder:
    """Wraps an encoder and counts encode calls (a cache hit makes none)."""

    def __init__(self, inner):
        self.inner, self.spec, self.calls = inner, inner.spec, 0

    def encode(self, frames, batch_size=256):
        self.calls += 1
        return self.inner.encode(frames, batch_size)


def _clip(tmp_path, name="c.mp4", n=40, seed=0):
    rng = np.random.default_rng(seed)
    # smooth random blobs survive H.264 better than per-pixel noise
    small = rng.integers(0, 256, (n, 12, 12, 3), dtype=np.uint8)
    frames = np.repeat(np.repeat(small, 8, axis=1), 8, axis=2)
    path = write_clip(tmp_path / name, frames, fps=50.0)
    return probe_files([path])[0]


@pytest.fixture(scope="module")
def encoder():
    return build_conv("carracing", seed=0)


def test_chunked_stacks_equal_whole_clip_stacks(tmp_path):
    clip = _clip(tmp_path, n=23)
    pre = get_game("carracing").preprocess
    whole = pre.clip(read_clip(clip, fps=50.0, size=(96, 96)))
    chunked = np.concatenate(list(iter_stacked_chunks(clip, "carracing", chunk_frames=4)))
    assert chunked.shape == whole.shape == (23, 3, 84, 84)
    np.testing.assert_array_equal(chunked, whole)


def test_cache_miss_hit_and_invalidation(tmp_path, encoder):
    clip = _clip(tmp_path)
    cache = tmp_path / "cache"
    enc = CountingEncoder(encoder)
    first = clip_features(clip, enc, "carracing", cache)
    assert first.shape == (40, encoder.spec.feature_dim) and first.dtype == np.float32
    assert enc.calls == 1 and len(list(cache.glob("*.npz"))) == 1
    second = clip_features(clip, enc, "carracing", cache)
    assert enc.calls == 1  # hit: nothing re-encoded
    np.testing.assert_array_equal(first, second)
    # another encoder (new id) misses
    other = CountingEncoder(build_conv("carracing", seed=1))
    clip_features(clip, other, "carracing", cache)
    assert other.calls == 1 and len(list(cache.glob("*.npz"))) == 2
    # same file name, new content: misses
    clip2 = _clip(tmp_path, n=40, seed=5)
    assert clip2.path == clip.path
    third = clip_features(clip2, enc, "carracing", cache)
    assert enc.calls == 2 and not np.allclose(third, first)
    # no cache dir: always computes
    clip_features(clip2, enc, "carracing", None)
    assert enc.calls == 3


def test_cache_key_covers_preprocessing_and_encoder():
    pre = get_game("carracing").preprocess
    from dataclasses import replace

    base = cache_key("abc", "enc1", "carracing", pre)
    assert base == cache_key("abc", "enc1", "carracing", pre)
    assert base != cache_key("abd", "enc1", "carracing", pre)
    assert base != cache_key("abc", "enc2", "carracing", pre)
    assert base != cache_key("abc", "enc1", "carracing", replace(pre, stack=4))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_values"])
def test_corrupt_cache_file_is_rebuilt(tmp_path, encoder, damage):
    clip = _clip(tmp_path)
    cache = tmp_path / "cache"
    good = clip_features(clip, encoder, "carracing", cache)
    (path,) = cache.glob("*.npz")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "garbage":
        path.write_text("not a cache file")
    else:  # a well-formed file whose features do not match their checksum
        with np.load(path) as data:
            fields = dict(data)
        fields["features"] = fields["features"] + 1.0
        with open(path, "wb") as f:
            np.savez(f, **fields)
    enc = CountingEncoder(encoder)
    with pytest.warns(UserWarning, match="corrupt"):
        rebuilt = clip_features(clip, enc, "carracing", cache)
    assert enc.calls == 1
    np.testing.assert_allclose(rebuilt, good, atol=1e-6)
    again = clip_features(clip, enc, "carracing", cache)  # the rebuilt file is trusted
    assert enc.calls == 1
    np.testing.assert_array_equal(again, rebuilt)


def test_encoder_preprocessing_mismatch_is_an_error(tmp_path):
    clip = _clip(tmp_path, n=5)
    with pytest.raises(ValueError, match="expects inputs"):
        clip_features(clip, build_conv("pong"), "carracing", None)
    from encoders.pretrain import view

    hud = build_conv("carracing", preprocess=view("carracing", "nohud"))
    with pytest.raises(ValueError, match="trained on preprocessing"):
        clip_features(clip, hud, "carracing", None)
    out = clip_features(clip, hud, "carracing", None, preprocess=view("carracing", "nohud"))
    assert out.shape == (5, hud.spec.feature_dim)
