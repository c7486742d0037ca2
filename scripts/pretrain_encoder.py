"""Pretrain a game's default encoder, self-supervised, and write its checkpoint.

Reproduce the shipped CarRacing weights (seeded; measured here on the shared 2-core
machine under load: ~8.5 min of own play + ~9 min of training; 1 torch thread):

    OMP_NUM_THREADS=1 .venv/bin/python scripts/pretrain_encoder.py --env carracing \
        --out encoders/weights/carracing.pt --ship

Reproduce the shipped Atari weights (trained on Pong; seeded; ~1 min of data loading,
30,000 steps of own play in ~15 s, ~7 min of training; 1 torch thread):

    OMP_NUM_THREADS=1 .venv/bin/python scripts/pretrain_encoder.py --env pong \
        --out encoders/weights/atari.pt --ship

Pong's defaults differ from CarRacing's (``GAME_DEFAULTS``): the encoder subtracts the
median background frame (``--center 1``), a decoder rebuilds the background-subtracted
frames (``--w-recon 50``), a spatial-softmax head (``--head spatial_softmax``: each
channel's expected (x, y), so object positions are linear in the features), 2000 steps,
30,000 play steps, gaps up to 3.

Data: the frames (only) of the clips under ``--videos`` (default ``videos/<env>``) plus
the agent's own exploratory play in the env; see encoders/pretrain.py for the objectives.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np  # noqa: E402

from encoders.base import (
    preprocess_dict,  # noqa: E402
    write_manifest_entry,  # noqa: E402
)
from encoders.pretrain import (  # noqa: E402
    CARRACING_PLAY_PROBS,
    Episodes,
    PlayConfig,
    PretrainConfig,
    collect_play,
    config_dict,
    load_video_episodes,
    pretrain,
    view,
)
from encoders.registry import save_checkpoint  # noqa: E402

#: per-game defaults of the shipped runs
GAME_DEFAULTS = {
    "carracing": {"play": PlayConfig(probs=CARRACING_PLAY_PROBS)},
    "pong": {"play": PlayConfig(episode_steps=2000, max_hold=4), "max_gap": 3,
             "steps": 2000, "play_steps": 30_000, "w_recon": 50.0, "center": True,
             "head": "spatial_softmax"},
}


#: flags left unset take the game's value here, else the common default below
COMMON_DEFAULTS = {
    "steps": 1000, "batch": 32, "play_steps": 12_000, "lr": 3e-4, "w_idm": 1.0, "w_tcl": 1.0,
    "w_tdist": 1.0, "w_fwd": 0.0, "w_recon": 0.0, "max_gap": 4, "center": False,
    "head": "flatten",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", required=True, choices=sorted(GAME_DEFAULTS))
    p.add_argument("--videos", type=Path, default=None, help="clips folder (default videos/<env>)")
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps (1000; pong 2000)")
    p.add_argument("--batch", type=int, default=None, help="samples per objective per step (32)")
    p.add_argument("--play-steps", type=int, default=None,
                   help="env steps of own play (12000; pong 30000)")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (3e-4)")
    p.add_argument("--w-idm", type=float, default=None, help="inverse dynamics weight (1)")
    p.add_argument("--w-tcl", type=float, default=None, help="temporal contrast weight (1)")
    p.add_argument("--w-tdist", type=float, default=None, help="temporal distance weight (1)")
    p.add_argument("--w-fwd", type=float, default=None, help="latent forward model weight (0)")
    p.add_argument("--w-recon", type=float, default=None,
                   help="foreground reconstruction weight (0; pong 50)")
    p.add_argument("--center", type=int, choices=(0, 1), default=None,
                   help="1: subtract the median background frame in the encoder (pong 1)")
    p.add_argument("--max-gap", type=int, default=None, help="largest temporal gap (4; pong 3)")
    p.add_argument("--no-video", action="store_true", help="use own play only")
    p.add_argument("--view", default="default",
                   help="default | nohud (experiment: the whole CarRacing HUD cropped)")
    p.add_argument("--feature-dim", type=int, default=128)
    p.add_argument("--head", default=None,
                   help="flatten | spatial_softmax (flatten; pong spatial_softmax)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1 was faster than 2 on the shared 2-core machine)")
    p.add_argument("--data-cache", type=Path, default=Path(".cache/pretrain"),
                   help="where collected play is cached between runs")
    p.add_argument("--checkpoint-every", type=int, default=0,
                   help="also write <out>.step<N>.pt every N steps (to probe learning curves)")
    p.add_argument("--ship", action="store_true",
                   help="record the file's SHA-256 in encoders/weights/MANIFEST.json")
    args = p.parse_args(argv)
    game = GAME_DEFAULTS[args.env]
    for key, value in COMMON_DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, game.get(key, value))
    return args


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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    defaults = GAME_DEFAULTS[args.env]
    play = replace(defaults["play"], steps=args.play_steps)
    cfg = PretrainConfig(
        game=args.env,
        videos=args.videos or Path("videos") / args.env,
        view=args.view,
        play=play,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        max_gap=args.max_gap,
        w_idm=args.w_idm,
        w_tcl=args.w_tcl,
        w_tdist=args.w_tdist,
        w_fwd=args.w_fwd,
        w_recon=args.w_recon,
        seed=args.seed,
        threads=args.threads,
        arch={"feature_dim": args.feature_dim, "head": args.head, "center": bool(args.center)},
    )
    t0 = time.time()
    pre = view(cfg.game, cfg.view)
    frames, actions = cached_play(cfg.game, cfg.play, cfg.view, args.data_cache)
    # The last 5% of play episodes check inverse dynamics on unseen play.
    n_val = max(1, len(frames) // 20)
    play_eps = Episodes.from_lists(frames[:-n_val], actions[:-n_val])
    valid = Episodes.from_lists(frames[-n_val:], actions[-n_val:])
    video_eps = None
    if not args.no_video:
        vids = load_video_episodes(cfg.videos, cfg.game, pre)
        video_eps = Episodes.from_lists(vids, None)
        print(f"video: {len(vids)} clips, {len(video_eps.frames)} frames")
    print(f"play: {len(frames)} episodes, {len(play_eps.frames)} frames; data ready "
          f"in {time.time() - t0:.0f}s")
    def snapshot(step: int, enc) -> None:
        save_checkpoint(args.out.with_suffix(f".step{step}.pt"), enc, game=cfg.game,
                        preprocess=pre, meta={"config": config_dict(cfg), "step": step})

    encoder, rows = pretrain(cfg, video_eps, play_eps, valid_play=valid,
                             on_checkpoint=snapshot, checkpoint_every=args.checkpoint_every)
    meta = {"config": config_dict(cfg), "log": rows[-1] if rows else {},
            "wall_s": round(time.time() - t0, 1), "command": " ".join(sys.argv)}
    save_checkpoint(args.out, encoder, game=cfg.game, preprocess=pre, meta=meta)
    if args.ship:
        write_manifest_entry(args.out)
    log_path = args.out.with_suffix(".log.json")
    log_path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {meta['wall_s']}s")


if __name__ == "__main__":
    main()
