"""The recorder: clips that lfo.data.video decodes, sidecars with the right fields, determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lfo.data.sidecar import read_metadata
from lfo.data.video import scan_folder
from lfo.demonstrations.labels import MissingLabelsError, read_expert_actions
from lfo.demonstrations.recorder import ACTIONS_KEY, RecordConfig, record_episode, record_videos

SIDECAR_FIELDS = {"game", "env_id", "env_kwargs", "seed", "skill", "expert", "return", "length",
                  "frames", "fps", "control_hz", "terminated", "truncated", ACTIONS_KEY}


@pytest.mark.parametrize(("game", "steps", "fps"), [("carracing", 60, 50.0), ("pong", 80, 15.0)])
def test_recorded_clip_decodes_with_right_frames_fps_and_sidecar(tmp_path, game, steps, fps):
    cfg = RecordConfig(env=game, episodes=2, out=tmp_path / game, seed=10_000,
                       max_episode_steps=steps)
    records = record_videos(cfg, progress=False)
    folder = scan_folder(tmp_path / game)
    assert [c.path.name for c in folder] == ["clip_000.mp4", "clip_001.mp4"]
    for clip, record in zip(folder, records, strict=True):
        assert clip.n_frames == steps + 1  # the reset frame plus one per step
        assert clip.fps == pytest.approx(fps, rel=1e-3)
        sidecar = json.loads(clip.path.with_suffix(".json").read_text())
        assert SIDECAR_FIELDS <= set(sidecar)
        assert sidecar == record
        assert len(sidecar[ACTIONS_KEY]) == sidecar["length"] == steps
        assert sidecar["fps"] == pytest.approx(fps)
    assert [r["seed"] for r in records] == [10_000, 10_001]
    summary = json.loads((tmp_path / game / "recording.json").read_text())
    assert summary["returns"] == [r["return"] for r in records]


def test_recording_is_deterministic_for_a_seed():
    a = record_episode("carracing", seed=10_003, skill=0.7, max_steps=120)
    b = record_episode("carracing", seed=10_003, skill=0.7, max_steps=120)
    assert a.actions == b.actions and a.episode_return == b.episode_return
    np.testing.assert_array_equal(a.frames, b.frames)
    c = record_episode("carracing", seed=10_004, skill=0.7, max_steps=120)
    assert c.actions != a.actions


def test_metadata_reader_never_returns_actions_but_labels_reader_does(tmp_path):
    record_videos(RecordConfig(env="pong", episodes=1, out=tmp_path, max_episode_steps=20),
                  progress=False)
    clip = tmp_path / "clip_000.mp4"
    meta = read_metadata(clip)
    assert meta["game"] == "pong" and ACTIONS_KEY not in meta
    assert meta["expert"] == "PongExpert(memoryless)"  # which controller played
    assert read_expert_actions(clip).shape == (20,)
    clip.with_suffix(".json").unlink()
    assert read_metadata(clip) is None
    with pytest.raises(MissingLabelsError):
        read_expert_actions(clip)
