"""Wall time of Ray against one process, in one run: a benchmark sweep and a folder encode.

    python experiments/ray_speedup.py --out results/ray_speedup.json

1. Sweep: ``lfo-benchmark`` of one method x 2 seeds, ``--executor local`` then ``--executor
   ray`` (a Ray instance started on this machine, its start-up included), each into a
   fresh folder; the final returns per seed must be identical.
2. Encoding: a folder of ``--clips`` copies of the shipped clips under other names (the
   cache files are named by the clip, so every copy is decoded and encoded), encoded into
   a fresh cache by ``lfo-encode-videos --executor local`` (one process, torch's default
   threads) and ``--executor ray`` (one worker per core, one thread each); the two caches
   must hold the same features.

Each pair is timed ``--repeats`` times in turn (local, ray, local, ray...); the figures
are the medians and the ratio ray / local of each pair. Last, the ceiling the machine
gives the encoding: two independent one-thread processes (no Ray), half the clips each.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import tyro

from lfo.analysis.benchmark import BenchmarkConfig, run_benchmark
from lfo.loop.config import RunSettings
from lfo.scaling.encode_videos import EncodeConfig, encode_videos


@dataclass
class Config:
    env: str = "pong"
    method: str = "iq-idm"
    seeds: tuple[int, ...] = (0, 1)
    steps: int = 20_000
    """Agent steps of each run."""
    eval_every: int = 10_000
    clips: int = 100
    """Clips in the encoding folder (copies of videos/<env>)."""
    repeats: int = 2
    out: str | None = None
    """Write the figures here (JSON), with a Markdown table beside it."""


def time_sweep(cfg: Config, executor: str, work: Path) -> tuple[float, dict[int, tuple]]:
    out = work / f"sweep_{executor}"
    shutil.rmtree(out, ignore_errors=True)
    bench = BenchmarkConfig(env=cfg.env, methods=(cfg.method,), seeds=cfg.seeds, steps=cfg.steps,
                            out=str(out), progress=False, executor=executor,
                            run=RunSettings(eval_every=cfg.eval_every))
    start = time.monotonic()
    rows = run_benchmark(bench)
    wall = time.monotonic() - start
    return wall, {r["seed"]: (r["greedy_mean"], r["sampled_mean"]) for r in rows}


def make_clip_folder(cfg: Config, work: Path) -> Path:
    source = sorted(Path("videos", cfg.env).glob("clip_*.mp4"))
    folder = work / "many_clips"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(cfg.clips):
        clip = source[i % len(source)]
        name = f"copy_{i:03d}"  # the cache file is named by the clip: each copy is encoded
        shutil.copyfile(clip, folder / f"{name}.mp4")
        shutil.copyfile(clip.with_suffix(".json"), folder / f"{name}.json")
    return folder


def time_encode(folder: Path, executor: str, work: Path) -> tuple[float, int, Path]:
    cache = work / f"cache_{executor}"
    shutil.rmtree(cache, ignore_errors=True)
    start = time.monotonic()
    report = encode_videos(EncodeConfig(videos=str(folder), executor=executor,
                                        cache=str(cache), progress=False))
    wall = time.monotonic() - start
    if report.failed or report.encoded != len(list(folder.glob("*.mp4"))):
        raise RuntimeError(f"encoding with {executor} did not encode every clip: {report}")
    return wall, report.frames, cache


def time_two_processes(folder: Path, work: Path) -> float:
    """Wall time of two independent one-thread ``lfo-encode-videos --executor local``
    processes, each on half the clips (no Ray): what two cores give this work here."""
    halves = [work / "half_a", work / "half_b"]
    for i, clip in enumerate(sorted(folder.glob("*.mp4"))):
        half = halves[i % 2]
        half.mkdir(exist_ok=True)
        for path in (clip, clip.with_suffix(".json")):
            (half / path.name).symlink_to(path.resolve())
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-m", "lfo.cli.encode_videos", "--videos",
                               str(h), "--cache", str(work / f"cache_{h.name}"),
                               "--threads-per-worker", "1", "--no-progress"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for h in halves]
    if any(p.wait() != 0 for p in procs):
        raise RuntimeError("a plain encoding process failed")
    return time.monotonic() - start


def main(cfg: Config) -> dict:
    work = Path(tempfile.mkdtemp(prefix="ray_speedup_"))
    # the runs read the shipped clips' features from the cache: fill it before timing
    encode_videos(EncodeConfig(videos=f"videos/{cfg.env}", progress=False))
    sweep: dict[str, list[float]] = {"local": [], "ray": []}
    returns: dict[str, dict] = {}
    for _ in range(cfg.repeats):
        for executor in ("local", "ray"):
            wall, rets = time_sweep(cfg, executor, work)
            sweep[executor].append(wall)
            returns[executor] = rets
            print(f"sweep {executor}: {wall:.1f} s, returns {rets}", flush=True)
    if returns["local"] != returns["ray"]:
        raise RuntimeError(f"the executors' returns differ: {returns}")

    folder = make_clip_folder(cfg, work)
    encode: dict[str, list[float]] = {"local": [], "ray": []}
    frames = 0
    caches = {}
    for _ in range(cfg.repeats):
        for executor in ("local", "ray"):
            wall, frames, caches[executor] = time_encode(folder, executor, work)
            encode[executor].append(wall)
            print(f"encode {executor}: {wall:.1f} s, {frames / wall:.0f} frames/s", flush=True)
    for path in caches["local"].glob("*.npz"):  # equal up to float32 rounding: the local
        # process runs the CNN on 2 threads, each Ray worker on 1 (another summation order)
        np.testing.assert_allclose(np.load(path)["features"],
                                   np.load(caches["ray"] / path.name)["features"],
                                   rtol=1e-4, atol=1e-5)
    # the machine's own ceiling: two plain processes of one thread, half the clips each
    ceiling = time_two_processes(folder, work)
    print(f"encode, two plain processes: {ceiling:.1f} s", flush=True)

    result = {
        "config": asdict(cfg),
        "sweep_wall_s": sweep,
        "sweep_ratio_ray_over_local": [
            r / loc for r, loc in zip(sweep["ray"], sweep["local"], strict=True)],
        "sweep_returns_per_seed": {str(k): v for k, v in returns["ray"].items()},
        "encode_wall_s": encode,
        "encode_frames": frames,
        "encode_two_plain_processes_wall_s": ceiling,
        "encode_speedup_ray_over_local": [loc / r for r, loc in zip(encode["ray"],
                                                                    encode["local"], strict=True)],
    }
    med = statistics.median
    table = "\n".join([
        "| work | local (s) | ray (s) | ray / local wall time | speed-up |",
        "|---|---|---|---|---|",
        f"| sweep: {cfg.env} {cfg.method}, seeds {' '.join(map(str, cfg.seeds))}, "
        f"{cfg.steps:,} agent steps each | {med(sweep['local']):.1f} | {med(sweep['ray']):.1f} "
        f"| {med(result['sweep_ratio_ray_over_local']):.2f} "
        f"| {1 / med(result['sweep_ratio_ray_over_local']):.2f}x |",
        f"| encode: {cfg.clips} {cfg.env} clips, {frames:,} frames | {med(encode['local']):.1f} "
        f"| {med(encode['ray']):.1f} | {1 / med(result['encode_speedup_ray_over_local']):.2f} "
        f"| {med(result['encode_speedup_ray_over_local']):.2f}x |",
        f"| encode without Ray: two one-thread processes, half the clips each (the ceiling "
        f"two cores give) | {med(encode['local']):.1f} | {ceiling:.1f} "
        f"| {ceiling / med(encode['local']):.2f} | {med(encode['local']) / ceiling:.2f}x |",
    ])
    print(table)
    if cfg.out:
        Path(cfg.out).write_text(json.dumps(result, indent=1))
        Path(cfg.out).with_suffix(".md").write_text(table + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return result


if __name__ == "__main__":
    main(tyro.cli(Config))
