"""Pretrain a game's default encoder, self-supervised, and write its checkpoint.

Reproduce the shipped CarRacing weights (seeded; measured here on the shared 2-core
machine under load: ~8.5 min of own play + ~9 min of training; 1 torch thread):

    OMP_NUM_THREADS=1 lfo-pretrain-encoder --env carracing \\
        --out encoders/weights/carracing.pt --ship

Reproduce the shipped Atari weights (trained on Pong; seeded; ~1 min of data loading,
30,000 steps of own play in ~15 s, ~7 min of training; 1 torch thread):

    OMP_NUM_THREADS=1 lfo-pretrain-encoder --env pong \\
        --out encoders/weights/atari.pt --ship

The defaults shown below are the recipe of the game given with --env (run with --env pong
--help for Pong's: 2000 steps, 30,000 play steps in episodes of 2000, gaps up to 3, a
decoder rebuilding the background-subtracted frames with --w-recon 50, and the Atari
family's encoder, which subtracts the median background and reads objects with a
spatial-softmax head).

Data: the frames (only) of the clips under --videos (default videos/<env>) plus the
agent's own exploratory play in the env; see encoders/pretrain.py for the objectives.

`python scripts/pretrain_encoder.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import tyro

from encoders.base import (
    preprocess_dict,
    write_manifest_entry,
)
from encoders.pretrain import (
    Episodes,
    PlayConfig,
    PretrainConfig,
    PretrainRun,
    collect_play,
    config_dict,
    game_recipe,
    load_video_episodes,
    pretrain,
    view,
)
from encoders.registry import save_checkpoint


def env_in(argv: list[str]) -> str:
    """The game named by --env in argv (carracing when absent): it picks the defaults."""
    for k, arg in enumerate(argv):
        if arg == "--env" and k + 1 < len(argv):
            return argv[k + 1]
        if arg.startswith("--env="):
            return arg.split("=", 1)[1]
    return "carracing"


def cached_play(game: str, play: PlayConfig, view_name: str, cache: Path):
    """Collect the exploratory play once per (game, config, preprocessing); reuse it after."""
    pre = preprocess_dict(view(game, view_name))
    key = hashlib.sha256(json.dumps([game, asdict(play), pre]).encode()).hexdigest()[:16]
    path = cache / f"play-{game}-{key}.npz"
    if path.exists():
        try:
            with np.load(path) as data:
                lengths = data["lengths"]
                frames = np.split(data["frames"], np.cumsum(lengths)[:-1])
                actions = np.split(data["actions"], np.cumsum(lengths - 1)[:-1])
                return frames, actions
        except Exception:
            print(f"play cache {path} unreadable; collecting again")
    t0 = time.time()
    frames, actions = collect_play(game, play, view(game, view_name))
    print(f"collected {sum(len(a) for a in actions)} play steps in {time.time() - t0:.0f}s")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, frames=np.concatenate(frames), actions=np.concatenate(actions),
                 lengths=np.array([len(x) for x in frames]))
    tmp.replace(path)
    return frames, actions


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    default = PretrainRun(env=env_in(argv), out=tyro.MISSING, **game_recipe(env_in(argv)))
    args = tyro.cli(PretrainRun, args=argv, default=default, description=__doc__)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    cfg = args.config()
    try:
        pretrain_and_save(args, cfg)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def pretrain_and_save(args: PretrainRun, cfg: PretrainConfig) -> None:
    t0 = time.time()
    pre = view(cfg.env, cfg.view)
    frames, actions = cached_play(cfg.env, cfg.play, cfg.view, args.data_cache)
    # The last 5% of play episodes check inverse dynamics on unseen play.
    n_val = max(1, len(frames) // 20)
    play_eps = Episodes.from_lists(frames[:-n_val], actions[:-n_val])
    valid = Episodes.from_lists(frames[-n_val:], actions[-n_val:])
    video_eps = None
    if args.video:
        vids = load_video_episodes(cfg.videos_dir, cfg.env, pre)
        video_eps = Episodes.from_lists(vids, None)
        print(f"video: {len(vids)} clips, {len(video_eps.frames)} frames")
    print(f"play: {len(frames)} episodes, {len(play_eps.frames)} frames; data ready "
          f"in {time.time() - t0:.0f}s")
    def snapshot(step: int, enc) -> None:
        save_checkpoint(args.out.with_suffix(f".step{step}.pt"), enc, game=cfg.env,
                        preprocess=pre, meta={"config": config_dict(cfg), "step": step})

    encoder, rows = pretrain(cfg, video_eps, play_eps, valid_play=valid,
                             on_checkpoint=snapshot, checkpoint_every=args.checkpoint_every)
    meta = {"config": config_dict(cfg), "log": rows[-1] if rows else {},
            "wall_s": round(time.time() - t0, 1), "command": " ".join(sys.argv)}
    save_checkpoint(args.out, encoder, game=cfg.env, preprocess=pre, meta=meta)
    if args.ship:
        write_manifest_entry(args.out)
    log_path = args.out.with_suffix(".log.json")
    log_path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {meta['wall_s']}s")


if __name__ == "__main__":
    sys.exit(main())
