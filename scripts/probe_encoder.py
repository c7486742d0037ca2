"""Linear probes of an encoder's features against privileged game state, plus throughput.

    OMP_NUM_THREADS=2 .venv/bin/python scripts/probe_encoder.py --env carracing \
        --json results/encoder_probe_carracing.json

Records (once, then reuses) held-out expert episodes (seeds 500-519 by default, from the
evaluation range, never used to pretrain; skills cycled over 1.0, 0.9, 0.8) as clips
with their true state, encodes them through the learner's own decode/preprocess path,
and reports ridge R^2 on the last 30% of the episodes for: the chosen encoder, a
randomly initialised encoder of the same architecture, and raw downsampled pixels.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import torch  # noqa: E402

import encoders  # noqa: E402
from encoders.base import spec_id, state_digest  # noqa: E402
from encoders.registry import build_conv, build_pixels, preprocess_from_dict  # noqa: E402
from lfo.analysis.probe import (  # noqa: E402
    PROBE_VARIABLES,
    ProbeSetConfig,
    build_probe_set,
    encoder_throughput,
    probe_encoder,
)
from lfo.data.video import ClipInfo, probe_files  # noqa: E402

#: probe episode length cap per game (Pong games last thousands of steps)
MAX_STEPS = {"carracing": None, "pong": 1500}


def parse_seeds(text: str) -> tuple[int, ...]:
    """'500-519' or '500,501,...'."""
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b) + 1) if b else [int(a)])
    return tuple(out)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", required=True, choices=sorted(PROBE_VARIABLES))
    p.add_argument("--encoder", default=None, help="registry name or checkpoint (default: game's)")
    p.add_argument("--weights", default=None, help="weights file for the encoder (resnet18)")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--seeds", type=parse_seeds, default=None, help="probe seeds (default 500-519)")
    p.add_argument("--skills", default="1.0,0.9,0.8", help="expert skills cycled over seeds")
    p.add_argument("--probe-dir", type=Path, default=Path(".cache/probe"))
    p.add_argument("--cache", type=Path, default=Path(".cache/features"))
    p.add_argument("--no-baselines", action="store_true", help="skip random and pixel baselines")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--view", default=None,
                   help="experiment: probe the random and pixel baselines on another view "
                        "(e.g. nohud) instead of the encoder's")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    default_seeds = range(500, 520) if args.env == "carracing" else range(500, 512)
    seeds = args.seeds or tuple(default_seeds)
    skills = tuple(float(s) for s in args.skills.split(","))
    cfg = ProbeSetConfig(args.env, seeds, skills, MAX_STEPS[args.env])
    paths = build_probe_set(cfg, args.probe_dir / args.env)
    clips = [c for c in probe_files(paths) if isinstance(c, ClipInfo)]
    if len(clips) != len(paths):
        raise RuntimeError(f"{len(paths) - len(clips)} probe clip(s) failed to decode")

    name = args.encoder or encoders.default_for(args.env)
    main_enc = encoders.load(name, weights=args.weights, game=args.env)
    pre = preprocess_from_dict(main_enc.spec.preprocess, args.env)
    runs = {name: (main_enc, pre)}
    if args.view:
        from encoders.pretrain import view

        pre = view(args.env, args.view)
    if not args.no_baselines:
        arch = getattr(main_enc, "cfg", None)
        if arch is not None:  # same architecture and view, seed-0 random weights
            kw = {"widths": arch.widths, "feature_dim": arch.feature_dim, "head": arch.head}
            if arch.center:  # same background subtracted (data statistics, not learnt)
                kw["center"] = True
            rand = build_conv(args.env, preprocess=pre, **kw)
            if arch.center:
                rand.background.copy_(main_enc.background)
                rand.spec = replace(rand.spec, id=spec_id(
                    rand.spec.id, state_digest(rand.state_dict())))  # feature cache key
            runs["random (same arch)"] = (rand, pre)
        else:
            runs["random (default arch)"] = (encoders.load(f"random-{args.env}"), None)
        runs["pixels 21x21"] = (build_pixels(args.env, preprocess=pre), pre)

    results = {"env": args.env, "probe": {**cfg.__dict__}, "encoders": {}}
    for label, (enc, view_) in runs.items():
        t0 = time.time()
        res = probe_encoder(enc, clips, args.env, cache_dir=args.cache, preprocess=view_)
        row = {"r2": {k: round(v, 4) for k, v in res.r2.items()}, "l2": res.l2,
               "feature_dim": enc.spec.feature_dim, "id": enc.spec.id,
               "n_train": res.n_train, "n_test": res.n_test, "seconds": round(time.time() - t0, 1)}
        results["encoders"][label] = row
        print(f"{label:28s} " + "  ".join(f"{k}={v:.3f}" for k, v in res.r2.items())
              + f"   (D={enc.spec.feature_dim}, {row['seconds']}s)")
    results["throughput"] = encoder_throughput(main_enc)
    results["throughput"]["threads"] = torch.get_num_threads()
    print(f"throughput of {name}: {results['throughput']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return results


if __name__ == "__main__":
    main()
