#!/usr/bin/env python
"""How often the game detector is right, and how far it keeps other games.

    OMP_NUM_THREADS=1 python -m experiments.game_detector_accuracy \
        --json results/game_detector_accuracy.json

For every shipped clip (videos/carracing, videos/pong, videos/breakout) it runs the
detector (lfo.demonstrations.game_detector) with references built from the *other* clips
of that game (leave one clip out, so a clip is never compared with its own frames). The
same is done on shifted copies under every video shift of lfo.shifts.registry: to keep it
cheap, each clip is first cut to a time-lapse excerpt (--excerpt-frames frames spread over
the whole clip, at the clip's own rate), and the excerpt folders are shifted with
lfo.shifts.folders.apply_video_shift (re-encoded, as the shifted folders of a benchmark).
Other games: a short random-play clip of each of --other-games (ALE), and synthetic
pictures (noise, solid colours, the index-coded frames of the test suite), against the
full references. Prints one row per (shift, game) and per other clip, and writes them
with the largest distance of a known clip to its own game and the smallest of another
clip to any game: the detector's threshold (UNKNOWN_DISTANCE) must lie between the two.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from lfo.data.video import sample_frames, scan_folder, write_clip
from lfo.demonstrations import game_detector as gd
from lfo.shifts.folders import apply_video_shift
from lfo.shifts.registry import VIDEO_SHIFTS
from lfo.testing.other_games import record_random_ale_clip

GAMES = ("carracing", "pong", "breakout")
OTHER_GAMES = ("SpaceInvaders", "Freeway", "Seaquest", "Boxing", "Tennis", "MsPacman",
               "Enduro", "Asteroids", "Skiing", "Bowling", "Riverraid", "Atlantis", "Kangaroo",
               "IceHockey", "VideoPinball", "Surround", "Tetris", "FishingDerby", "Frostbite",
               "DemonAttack", "BeamRider", "Gopher", "Qbert", "Venture", "VideoCheckers")


def excerpt(clip, n: int, dst: Path) -> None:
    """A time-lapse of ``n`` frames spread over the clip, written at the clip's rate."""
    write_clip(dst, sample_frames(clip, n), clip.fps)


def record_other(name: str, dst: Path, steps: int, seed: int = 1) -> None:
    """``steps`` frames of random play of ALE/<name>-v5."""
    record_random_ale_clip(f"ALE/{name}-v5", dst, steps, seed)


def synthetic(dst: Path) -> None:
    """Pictures of no game: noise, solid black, grey and green, index-coded flat frames."""
    rng = np.random.default_rng(0)
    n, h, w = 40, 96, 96
    index = np.zeros((n, h, w, 3), np.uint8)
    index[..., 0] = (8 * (np.arange(n) % 32))[:, None, None]
    index[..., 2] = 128
    for name, frames in (
        ("noise", rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)),
        ("black", np.zeros((n, h, w, 3), np.uint8)),
        ("grey", np.full((n, h, w, 3), 128, np.uint8)),
        ("green", np.tile(np.array([100, 200, 100], np.uint8), (n, h, w, 1))),
        ("index", index),
    ):
        write_clip(dst / f"{name}.mp4", frames, 50.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", default="videos", help="folder holding one folder per game")
    p.add_argument("--work", default=".cache/game_detector", help="where clips are written")
    p.add_argument("--excerpt-frames", type=int, default=48)
    p.add_argument("--other-games", nargs="*", default=list(OTHER_GAMES))
    p.add_argument("--other-steps", type=int, default=150)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    work = Path(args.work)
    start = time.time()

    # references per clip, to leave each clip's own out
    per_clip: dict[str, dict[str, np.ndarray]] = {}
    for game in GAMES:
        clips = scan_folder(Path(args.videos) / game, warn=False)
        per_clip[game] = {c.path.name: gd.reference_frames(
            sample_frames(c, 8, size=gd.DECODE_SIZE)) for c in clips}
        for c in clips:
            dst = work / "excerpts" / "clean" / game / c.path.name
            if not dst.exists():
                excerpt(c, args.excerpt_frames, dst)

    def references(skip: tuple[str, str] | None = None) -> dict[str, np.ndarray]:
        return {g: gd.reference_grids(gd.distinct(np.concatenate(
            [f for name, f in per_clip[g].items() if (g, name) != skip]))) for g in GAMES}

    full = references()
    rows, known_max = [], 0.0
    for shift in ("shipped", "clean", *VIDEO_SHIFTS):
        for game in GAMES:
            if shift == "shipped":
                folder = Path(args.videos) / game
            elif shift == "clean":
                folder = work / "excerpts" / "clean" / game
            else:
                folder = apply_video_shift(work / "excerpts" / "clean" / game, shift,
                                           work / "excerpts" / shift / game, progress=False)
            guesses = [gd.detect_clip(c, references((game, c.path.name)))
                       for c in scan_folder(folder, warn=False)]
            own = [g.distances[game] for g in guesses]
            other = [min(d for x, d in g.distances.items() if x != game) for g in guesses]
            row = {"shift": shift, "game": game, "right": sum(g.game == game for g in guesses),
                   "clips": len(guesses), "own_max": max(own), "own_mean": float(np.mean(own)),
                   "other_min": min(other)}
            known_max = max(known_max, row["own_max"])
            rows.append(row)
            print(f"{shift:9s} {game:10s} right {row['right']:2d}/{row['clips']:2d}  distance to "
                  f"its game: max {row['own_max']:.3f} mean {row['own_mean']:.3f}; to another "
                  f"game: min {row['other_min']:.3f}", flush=True)

    others_dir = work / "other"
    for name in args.other_games:
        if not (others_dir / f"{name}.mp4").exists():
            record_other(name, others_dir / f"{name}.mp4", args.other_steps)
    synthetic(others_dir)
    others = []
    for clip in scan_folder(others_dir, warn=False):
        guess = gd.detect_clip(clip, full)
        others.append({"clip": clip.path.name, "game": guess.game, "nearest": guess.nearest,
                       "distance": guess.distances[guess.nearest]})  # inf: a blank clip
    others.sort(key=lambda r: r["distance"])
    for r in others:
        print(f"other     {r['clip']:20s} -> {r['game'] or 'unknown'} (nearest {r['nearest']} "
              f"at {r['distance']:.3f})")
    other_min = min(r["distance"] for r in others)
    right = sum(r["right"] for r in rows)
    total = sum(r["clips"] for r in rows)
    print(f"known clips right: {right}/{total}; other clips called unknown: "
          f"{sum(r['game'] is None for r in others)}/{len(others)}; largest known distance "
          f"{known_max:.3f} < threshold {gd.UNKNOWN_DISTANCE} < smallest other {other_min:.3f} "
          f"({time.time() - start:.0f} s)")
    if args.json:
        for r in others:  # JSON has no infinity: a blank clip has no distance
            r["distance"] = r["distance"] if np.isfinite(r["distance"]) else None
        Path(args.json).write_text(json.dumps({
            "threshold": gd.UNKNOWN_DISTANCE, "known_max": known_max, "other_min": other_min,
            "rows": rows, "others": others}, indent=1) + "\n")


if __name__ == "__main__":
    main()
