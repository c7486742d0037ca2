"""Clip discovery, probing, decoding, resampling and bad-input handling."""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest
from conftest import decode_index, index_frames

from lfo.data import video
from lfo.data.video import (
    ClipInfo,
    NoUsableClipError,
    SkippedFile,
    find_video_files,
    iter_frame_chunks,
    probe_files,
    read_clip,
    resample_indices,
    scan_folder,
    write_clip,
)


# ------------------------------------------------------------------ discovery
def test_find_video_files_recurses_matches_extensions_case_insensitively(tmp_path):
    for rel in ["a.mp4", "sub/b.WEBM", "sub/deeper/c.avi", "d.MkV", "e.mov", "f.txt",
                "g.mp4.json", "sub/.hidden.mp4"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in find_video_files(tmp_path)]
    assert found == ["a.mp4", "d.MkV", "e.mov", "sub/b.WEBM", "sub/deeper/c.avi"]


def test_find_video_files_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_video_files(tmp_path / "nope")


# ------------------------------------------------------------------ metadata and decoding
@pytest.mark.parametrize("ext", [".mp4", ".webm", ".avi", ".mkv", ".mov"])
def test_probe_reads_metadata_for_every_container(clip_factory, ext):
    path = clip_factory(f"clip{ext}", n=30, fps=25.0, size=(32, 48))
    (info,) = probe_files([path])
    assert isinstance(info, ClipInfo)
    assert (info.n_frames, info.width, info.height) == (30, 48, 32)
    assert info.fps == pytest.approx(25.0, rel=1e-3)
    assert info.duration_s == pytest.approx(1.2, rel=1e-3)


def test_decode_shapes_dtypes_and_content(clip_factory):
    (info,) = probe_files([clip_factory("c.mp4", n=40, size=(32, 32))])
    frames = read_clip(info)
    assert frames.shape == (40, 32, 32, 3) and frames.dtype == np.uint8
    np.testing.assert_array_equal(decode_index(frames), np.arange(40))


def test_decode_resizes_while_decoding(clip_factory):
    (info,) = probe_files([clip_factory("c.mp4", n=10, size=(64, 48))])
    frames = read_clip(info, size=(24, 16))
    assert frames.shape == (10, 24, 16, 3)
    np.testing.assert_array_equal(decode_index(frames), np.arange(10))


def test_mixed_resolutions_decode_to_one_size(clip_factory, tmp_path):
    clip_factory("small.mp4", n=10, size=(32, 32))
    clip_factory("big.mp4", n=10, size=(96, 128))
    folder = scan_folder(tmp_path)
    shapes = {read_clip(c, size=(40, 40)).shape for c in folder}
    assert shapes == {(10, 40, 40, 3)}


# ------------------------------------------------------------------ resampling in time
def test_resample_indices_by_hand():
    # 25 fps clip of a 50 Hz game: each source frame covers two env steps.
    np.testing.assert_array_equal(resample_indices(4, 25, 50), [0, 0, 1, 1, 2, 2, 3, 3])
    # 60 fps -> 50 Hz: output k is game frame k, first on screen at time k/50; the first
    # 60 fps frame at or after that time is ceil(k * 60 / 50).
    np.testing.assert_array_equal(resample_indices(12, 60, 50), [0, 2, 3, 4, 5, 6, 8, 9, 10, 11])
    # same rate: identity
    np.testing.assert_array_equal(resample_indices(5, 50, 50), np.arange(5))
    # 100 fps -> 50 Hz drops every other frame
    np.testing.assert_array_equal(resample_indices(6, 100, 50), [0, 2, 4])


@pytest.mark.parametrize(("game_hz", "capture_fps"), [
    (50.0, 60.0), (50.0, 75.0), (50.0, 100.0), (50.0, 144.0),  # CarRacing
    (15.0, 25.0), (15.0, 60.0),  # Pong/Breakout at frameskip 4: the fps25/fps60 shifts
])
def test_a_faster_capture_of_the_game_resamples_back_to_every_game_frame(game_hz, capture_fps):
    # A camera at capture_fps shows, at each of its frames, the game frame on screen then;
    # resampling to the game's rate must give back game frames 0, 1, 2... exactly.
    game = np.arange(500)
    captured = game[resample_indices(len(game), game_hz, capture_fps)]
    back = captured[resample_indices(len(captured), capture_fps, game_hz)]
    n = min(len(back), len(game))
    np.testing.assert_array_equal(back[:n], game[:n])
    assert n >= len(game) - 1


@pytest.mark.parametrize("source_fps", [25.0, 50.0, 60.0])
def test_decoded_clips_are_resampled_to_the_control_rate(clip_factory, source_fps):
    n = 60  # 2.4 s at 25 fps, 1.2 s at 50, 1.0 s at 60
    (info,) = probe_files([clip_factory(f"c{int(source_fps)}.mp4", n=n, fps=source_fps)])
    frames = read_clip(info, fps=50.0)
    duration = n / source_fps
    assert len(frames) == int(round(duration * 50))
    # each output frame k shows the source frame on screen at time k / 50
    pos = np.arange(len(frames)) / 50 * source_fps
    expected = (np.ceil(pos - 1e-6) if source_fps > 50 else np.floor(pos + 1e-6)).astype(int)
    np.testing.assert_array_equal(decode_index(frames), expected)


# ------------------------------------------------------------------ chunked decoding
def test_chunked_decoding_of_a_long_clip_has_bounded_memory(tmp_path):
    n, size = 900, (64, 64)
    path = write_clip(tmp_path / "long.mp4", index_frames(n, *size), 50.0)
    (info,) = probe_files([path])
    chunk = 64
    chunk_bytes = chunk * size[0] * size[1] * 3
    tracemalloc.start()
    seen = []
    for frames in iter_frame_chunks(info, chunk_frames=chunk):
        assert len(frames) <= chunk
        seen.append(decode_index(frames))  # keep only the indices, not the frames
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    np.testing.assert_array_equal(np.concatenate(seen), np.arange(n))
    whole_clip_bytes = n * size[0] * size[1] * 3
    assert peak < 6 * chunk_bytes < whole_clip_bytes


def test_chunked_and_whole_decoding_agree_with_resampling(clip_factory):
    (info,) = probe_files([clip_factory("c.mp4", n=90, fps=60.0)])
    chunks = list(iter_frame_chunks(info, fps=50.0, chunk_frames=7))
    assert max(len(c) for c in chunks) == 7
    np.testing.assert_array_equal(np.concatenate(chunks), read_clip(info, fps=50.0))


# ------------------------------------------------------------------ bad input
def _bad_files(tmp_path, clip_factory):
    """Every kind of bad input, plus the reason fragment each must be skipped with."""
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("these are my notes, not a video\n" * 20)
    (tmp_path / "garbage.mkv").write_bytes(np.random.default_rng(0).bytes(5000))
    good = clip_factory("whole.mp4", n=40)
    data = good.read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 2])
    clip_factory("single.mp4", n=1)
    return {
        "empty.mp4": "empty file",
        "notes.mp4": "",
        "garbage.mkv": "",
        "truncated.mp4": "",
        "single.mp4": "need",
    }


def test_each_bad_file_is_skipped_with_its_reason(tmp_path, clip_factory):
    expected = _bad_files(tmp_path, clip_factory)
    with pytest.warns(UserWarning) as record:
        folder = scan_folder(tmp_path)
    assert [c.path.name for c in folder.clips] == ["whole.mp4"]
    reasons = {s.path.name: s.reason for s in folder.skipped}
    assert set(reasons) == set(expected)
    for name, fragment in expected.items():
        assert fragment in reasons[name]
    warned = " ".join(str(w.message) for w in record)
    for name in expected:
        assert name in warned


def test_truncated_streams_are_survived(tmp_path, clip_factory):
    """Truncated webm/avi open fine and report fewer frames (or are skipped): never a crash."""
    for ext in (".webm", ".avi"):
        data = clip_factory(f"full{ext}", n=80).read_bytes()
        (tmp_path / f"cut{ext}").write_bytes(data[: int(len(data) * 0.6)])
    entries = {e.path.name: e for e in probe_files(find_video_files(tmp_path))}
    for ext in (".webm", ".avi"):
        cut = entries[f"cut{ext}"]
        if isinstance(cut, ClipInfo):
            frames = read_clip(cut)
            assert 2 <= len(frames) < 80
        else:
            assert isinstance(cut, SkippedFile) and cut.reason


def test_folder_of_only_bad_files_raises_one_error_listing_them(tmp_path, clip_factory):
    expected = _bad_files(tmp_path, clip_factory)
    (tmp_path / "whole.mp4").unlink()
    with pytest.raises(NoUsableClipError) as err:
        scan_folder(tmp_path)
    message = str(err.value)
    assert "no decodable video" in message and "\n" not in message
    for name in expected:
        assert name in message


def test_folder_without_videos_says_so(tmp_path):
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(NoUsableClipError, match="no video files"):
        scan_folder(tmp_path)


def test_a_decoder_crash_kills_only_the_probe_child(tmp_path, clip_factory, monkeypatch):
    """A file that aborts the decoder process is skipped; the files after it are still probed."""
    clip_factory("a.mp4", n=10)
    (tmp_path / "b_crash.mp4").write_bytes(b"pretend this aborts the decoder")
    clip_factory("c.mp4", n=10)
    crashing_child = (
        "import os, sys\n"
        "from lfo.data.video import _probe_child_main\n"
        "for p in sys.argv[1:]:\n"
        "    if os.path.basename(p) == 'b_crash.mp4': os.abort()\n"
        "    _probe_child_main([p])\n"
    )
    monkeypatch.setattr(video, "PROBE_CHILD_CODE", crashing_child)
    entries = probe_files(find_video_files(tmp_path))
    names = [(e.path.name, isinstance(e, ClipInfo)) for e in entries]
    assert names == [("a.mp4", True), ("b_crash.mp4", False), ("c.mp4", True)]
    assert "crashed" in entries[1].reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_unreadable_file_is_skipped(tmp_path, clip_factory):
    path = clip_factory("locked.mp4", n=10)
    path.chmod(0)
    try:
        (entry,) = probe_files([path])
        assert isinstance(entry, SkippedFile)
    finally:
        path.chmod(0o644)


def test_write_clip_rejects_odd_sizes_and_unknown_extensions(tmp_path):
    with pytest.raises(ValueError, match="even"):
        write_clip(tmp_path / "a.mp4", np.zeros((2, 31, 32, 3), np.uint8), 10)
    with pytest.raises(ValueError, match="extension"):
        write_clip(tmp_path / "a.gif", np.zeros((2, 32, 32, 3), np.uint8), 10)
