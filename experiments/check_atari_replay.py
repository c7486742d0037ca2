"""Replay every Atari clip's recorded actions from its seed and compare with the sidecar.

    OMP_NUM_THREADS=1 python -m experiments.check_atari_replay videos/pong videos/breakout

For each clip: the replayed return and length against the sidecar's (``clip_states``
refuses a clip whose return differs), and the replayed frames against the decoded video
(mean absolute grey difference; the video is lossy, so a retraced episode shows a small
codec error while a diverged one shows moving objects in the wrong place). The states are
cached under ``.cache/privileged`` for training.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from lfo.data.video import iter_frame_chunks, scan_folder
from lfo.demonstrations.labels import read_expert_actions
from lfo.demonstrations.privileged_clips import clip_states
from lfo.envs.games import get_game, make_raw_env


def frames_error(clip: Path, game: str, seed: int, actions: np.ndarray, every: int = 50) -> float:
    """Worst mean |grey difference| (0-255) between replayed and decoded frames, every ``every``."""
    spec = get_game(game)
    info = next(c for c in scan_folder(clip.parent) if c.path.name == clip.name)
    env = make_raw_env(game)
    obs, _ = env.reset(seed=seed)
    worst, t = 0.0, 0
    for chunk in iter_frame_chunks(info, size=spec.native_size):
        for frame in chunk:
            if t % every == 0:
                a, b = obs.astype(np.float32).mean(-1), frame.astype(np.float32).mean(-1)
                worst = max(worst, float(np.abs(a - b).mean()))
            if t < len(actions):
                obs, *_ = env.step(int(actions[t]))
            t += 1
    env.close()
    if t != len(actions) + 1:
        raise RuntimeError(f"{clip}: {t} decoded frames for {len(actions)} actions")
    return worst


def main(folders: list[str]) -> None:
    rows = []
    for folder in folders:
        for clip in sorted(Path(folder).glob("clip_*.mp4")):
            meta = json.loads(clip.with_suffix(".json").read_text())
            game = meta["game"]
            actions = read_expert_actions(clip)
            states, _ = clip_states(clip, game)  # raises ReplayMismatch if the return differs
            err = frames_error(clip, game, int(meta["seed"]), actions)
            row = {"clip": str(clip), "seed": meta["seed"], "return": meta["return"],
                   "length": meta["length"], "states": len(states),
                   "worst_frame_error": round(err, 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps({"clips": len(rows), "all_returns_match": True,
                      "max_frame_error": max(r["worst_frame_error"] for r in rows)}))


if __name__ == "__main__":
    main(sys.argv[1:] or ["videos/pong", "videos/breakout"])
