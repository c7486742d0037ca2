"""Encode a clip folder ahead of training, in this process or across a Ray cluster, into
the same content-addressed feature cache the trainer reads (:mod:`encoders.clip_features`),
so that a later ``lfo-train`` on the folder starts without encoding.

The game, encoder, view and decoding rate are settled exactly as a run settles them
(:func:`lfo.loop.clip_source.open_clips`), so the cache keys are the run's. With Ray, each
worker is an actor that loads the encoder once and takes clips as they come; a clip that
cannot be decoded is reported with its reason and the others go on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from tqdm import tqdm

import encoders
from encoders.clip_features import DEFAULT_CACHE, cached_features, clip_features
from encoders.registry import default_encoder
from lfo.data.preprocess import Preprocess
from lfo.data.video import ClipInfo
from lfo.envs.games import env_options_with_repeat
from lfo.loop.clip_source import open_clips
from lfo.loop.logs import say
from lfo.scaling.ray_cluster import import_ray, ray_session


@dataclass
class EncodeConfig:
    """What to encode, and where."""

    videos: str
    """Clip folder (searched recursively)."""
    encoder: str | None = None
    """Encoder registry name or checkpoint path, as lfo-train --encoder; default: the game's."""
    env: str | None = None
    """The game, as lfo-train --env; default: the clips' own."""
    action_repeat: int = 1
    """As lfo-train --action-repeat (it sets the decoding rate, hence the cache key)."""
    executor: Literal["local", "ray"] = "local"
    """One process (local), or Ray workers on this machine or a cluster (ray)."""
    ray_address: str | None = None
    """With --executor ray: join this cluster (host:port or auto); default: start Ray here."""
    workers: int | None = None
    """With --executor ray: encoder workers; default: as many as the cluster has CPUs
    (divided by --threads-per-worker)."""
    threads_per_worker: int | None = None
    """torch threads of each worker (and each Ray worker's CPU request); default: 1 for Ray
    workers, torch's own for the local process."""
    cache: str = str(DEFAULT_CACHE)
    """The feature cache (the trainer's is .cache/features under the working directory)."""
    progress: bool = True
    """Progress bar over the clips."""


@dataclass
class EncodeReport:
    """What an encoding pass did."""

    encoded: int = 0
    """Clips decoded and encoded now."""
    cached: int = 0
    """Clips whose features the cache already held."""
    frames: int = 0
    """Feature rows (control-rate frames) of every usable clip."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(clip, reason) of each clip that could not be encoded."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(file, reason) of each file the folder scan could not use."""
    wall_s: float = 0.0
    workers: int = 1

    def summary(self) -> str:
        """One line for the terminal."""
        line = (f"{self.encoded} clip(s) encoded, {self.cached} already cached, "
                f"{self.frames:,} frames, {self.wall_s:.1f} s with {self.workers} worker(s)")
        bad = len(self.failed) + len(self.skipped)
        return line + (f"; {bad} file(s) not usable (listed above)" if bad else "")


class ClipEncoderWorker:
    """Loads the encoder once and encodes clips into the cache (a Ray actor, or plain)."""

    def __init__(self, cwd: str, encoder: str, game: str, view: Preprocess, control_hz: float,
                 cache: str, threads: int | None = None) -> None:
        os.chdir(cwd)  # the driver's working directory: relative paths mean the same
        if threads is not None:
            torch.set_num_threads(threads)
        self.encoder = encoders.load(encoder)
        self.game, self.view, self.control_hz = game, view, control_hz
        self.cache = Path(cache)

    def encode(self, clip: ClipInfo) -> tuple[str, int, bool, str | None]:
        """(clip path, frames, was cached, error or None)."""
        try:
            settings = dict(preprocess=self.view, control_hz=self.control_hz)
            feats = cached_features(clip, self.encoder, self.game, self.cache, **settings)
            if feats is not None:
                return str(clip.path), len(feats), True, None
            feats = clip_features(clip, self.encoder, self.game, self.cache, **settings)
            return str(clip.path), len(feats), False, None
        except Exception as exc:  # a clip that fails to decode must not end the pass
            return str(clip.path), 0, False, f"{type(exc).__name__}: {exc}"


def encode_videos(cfg: EncodeConfig) -> EncodeReport:
    """Fill the feature cache for every clip of ``cfg.videos``; return what was done."""
    start = time.time()
    if cfg.executor == "ray":
        import_ray()  # before any work: one line if it is missing
    options = env_options_with_repeat({}, cfg.action_repeat)
    source = open_clips(cfg.videos, env=cfg.env, encoder=cfg.encoder, env_options=options,
                        action_repeat=cfg.action_repeat, progress=cfg.progress)
    if source.privileged:
        raise ValueError(f"encoder {source.encoder.spec.name} reads the simulator's state, "
                         "replayed when a run starts: there is nothing to encode ahead")
    report = EncodeReport(skipped=[(str(s.path), s.reason) for s in source.folder.skipped])
    # a registry name, or a checkpoint path that the workers read from the same directory
    encoder = cfg.encoder or default_encoder(source.game)
    args = (os.getcwd(), encoder, source.game, source.view, source.control_hz, cfg.cache)
    clips = list(source.folder.clips)
    bar = tqdm(total=len(clips), desc="encoding clips", unit="clip", disable=not cfg.progress)
    if cfg.executor == "local":
        worker = ClipEncoderWorker(*args, cfg.threads_per_worker)
        results = (worker.encode(c) for c in clips)
        _collect(results, report, bar)
    else:
        with ray_session(cfg.ray_address) as ray:
            from ray.util import ActorPool

            threads = cfg.threads_per_worker or 1
            cpus = int(ray.cluster_resources().get("CPU", 1))
            n = cfg.workers or max(1, cpus // threads)
            report.workers = n = max(1, min(n, len(clips)))
            actor = ray.remote(num_cpus=threads)(ClipEncoderWorker)
            pool = ActorPool([actor.remote(*args, threads) for _ in range(n)])
            _collect(pool.map_unordered(lambda a, c: a.encode.remote(c), clips), report, bar)
    bar.close()
    for path, reason in report.failed:  # the folder scan has warned about the skipped
        say(f"not encoded: {path}: {reason}")
    report.wall_s = time.time() - start
    return report


def _collect(results, report: EncodeReport, bar) -> None:
    for path, frames, hit, error in results:
        if error is not None:
            report.failed.append((path, error))
        else:
            report.frames += frames
            report.cached += hit
            report.encoded += not hit
        bar.update()
