"""Shared fixtures: synthetic clips written to tmp_path, and tiny recorded CarRacing clips
made once per test run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def index_frames(n: int, height: int = 32, width: int = 32) -> np.ndarray:
    """Flat-colour frames whose colour encodes the frame index (survives compression).

    Frame i has red = 8 * (i % 32) and green = 8 * (i // 32): decode with
    :func:`decode_index`.
    """
    frames = np.zeros((n, height, width, 3), dtype=np.uint8)
    for i in range(n):
        frames[i, ..., 0] = 8 * (i % 32)
        frames[i, ..., 1] = 8 * (i // 32)
        frames[i, ..., 2] = 128
    return frames


def decode_index(frames: np.ndarray) -> np.ndarray:
    """Recover the frame indices written by :func:`index_frames` from decoded frames."""
    red = np.round(frames[..., 0].astype(float).mean(axis=(1, 2)) / 8)
    green = np.round(frames[..., 1].astype(float).mean(axis=(1, 2)) / 8)
    return (green * 32 + red).astype(int)


@pytest.fixture
def one_torch_thread():
    """Run the test on one torch thread (small nets: threads only add overhead and noise)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def clip_factory(tmp_path):
    """Write a clip of index-coded frames: ``clip_factory(name, n, fps, size=(h, w))``."""
    from lfo.data.video import write_clip

    def make(name: str, n: int = 20, fps: float = 50.0, size: tuple[int, int] = (32, 32)):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_clip(path, index_frames(n, *size), fps)

    return make


@pytest.fixture(scope="session")
def tiny_clips(tmp_path_factory) -> Path:
    """Two 60-step CarRacing expert clips (seeds 10000, 10001) with real sidecars, recorded
    once per test run and shared by the trainer, baseline and shift tests (read-only)."""
    from lfo.demonstrations.recorder import RecordConfig, record_videos

    out = tmp_path_factory.mktemp("clips") / "carracing"
    record_videos(RecordConfig(env="carracing", episodes=2, out=out, max_episode_steps=60),
                  progress=False)
    return out
