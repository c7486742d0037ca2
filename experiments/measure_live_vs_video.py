"""Are the agent's live features distributed like the expert clips' decoded features?

Plays one scripted-expert episode, encodes its frames two ways, and compares them:
* live: through the env wrapper the agent acts with (Preprocess + frame stack), then the encoder;
* video: the same frames written as the recorder writes clips (H.264), decoded and encoded
  by the trainer's clip path (``encoders.clip_features.compute_clip_features``).
Reports the per-frame feature distance live vs video next to the distance between
consecutive frames, and how well a logistic regression tells live from video features
(0.5 = indistinguishable). Run: ``OMP_NUM_THREADS=1 python -m experiments.measure_live_vs_video
[--game pong --max-steps 1500] [--match-median]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import encoders
from encoders.clip_features import compute_clip_features, encoder_view
from encoders.registry import default_encoder
from lfo.data.video import read_clip, scan_folder, write_clip
from lfo.demonstrations.recorder import RecordConfig, record_episode
from lfo.envs.games import get_game


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--game", default="carracing")
    p.add_argument("--encoder", default=None)
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--max-steps", type=int, default=600)
    p.add_argument("--match-median", action="store_true",
                   help="experiment: match the decoded frames' median grey to the live ones'")
    args = p.parse_args()
    enc = encoders.load(args.encoder or default_encoder(args.game))
    ep = record_episode(args.game, seed=args.seed, max_steps=args.max_steps)
    view = encoder_view(enc, args.game)
    live = enc.encode(view.clip(ep.frames))  # what the env wrapper builds, frame by frame
    with tempfile.TemporaryDirectory() as tmp:
        fps = get_game(args.game).control_hz()
        write_clip(Path(tmp) / "clip.mp4", ep.frames, fps, crf=RecordConfig.crf)
        clip = next(iter(scan_folder(tmp)))
        if not args.match_median:
            video = compute_clip_features(clip, enc, args.game, preprocess=view)
        else:
            # experiment: shift the decoded frames' grey levels so their median equals the
            # live frames' (H.264 darkens Pong's whole field by ~1 grey level)
            decoded = read_clip(clip)
            m = min(len(decoded), len(ep.frames))
            per_live = view.frames(ep.frames[:m]).astype(int)
            per_dec = view.frames(decoded[:m]).astype(int)
            shift = int(np.median(per_live) - np.median(per_dec))
            print(f"median grey: live {np.median(per_live):g}, decoded "
                  f"{np.median(per_dec):g}; decoded frames shifted by {shift:+d}")
            fixed = np.clip(per_dec + shift, 0, 255).astype(np.uint8)
            video = enc.encode(view.stack_frames(fixed))
    n = min(len(live), len(video))
    live, video = live[:n], video[:n]
    mu, sd = video.mean(0), video.std(0) + 1e-6  # the trainer standardises by the clips
    zl, zv = (live - mu) / sd, (video - mu) / sd
    d_same = np.linalg.norm(zl - zv, axis=1)
    d_next = np.linalg.norm(zv[1:] - zv[:-1], axis=1)
    d_rand = np.linalg.norm(zv - zv[np.random.default_rng(0).permutation(n)], axis=1)
    print(f"{args.game}, encoder {enc.spec.name}, {n} frames")
    print(f"|live - video| same frame: median {np.median(d_same):.2f}")
    print(f"|video t+1 - video t|:     median {np.median(d_next):.2f}")
    print(f"|video - random frame|:    median {np.median(d_rand):.2f}")
    # separability: logistic regression on half the frames, accuracy on the other half
    import torch
    x = torch.tensor(np.concatenate([zl, zv]), dtype=torch.float32)
    y = torch.cat([torch.ones(n), torch.zeros(n)])
    idx = torch.randperm(2 * n, generator=torch.Generator().manual_seed(0))
    tr, te = idx[: n], idx[n:]
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.05)
    for _ in range(500):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x[tr] @ w + b, y[tr])
        loss.backward()
        opt.step()
    acc = float(((x[te] @ w + b > 0).float() == y[te]).float().mean())
    print(f"live-vs-video linear classifier, held-out accuracy: {acc:.3f} (0.5 = same)")


if __name__ == "__main__":
    main()
