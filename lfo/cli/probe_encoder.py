"""Linear probes of an encoder's features against privileged game state, plus throughput.

    OMP_NUM_THREADS=2 lfo-probe-encoder --env carracing \\
        --json results/encoder_probe_carracing.json

Records (once, then reuses) held-out expert episodes (seeds 500 ... 519 by default, from the
evaluation range, never used to pretrain; skills cycled over 1.0, 0.9, 0.8) as clips
with their true state, encodes them through the learner's own decode/preprocess path,
and reports ridge R^2 on the last 30% of the episodes for: the chosen encoder, a
randomly initialised encoder of the same architecture, and raw downsampled pixels.

`python scripts/probe_encoder.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace

import torch
import tyro

import encoders
from encoders.base import spec_id, state_digest
from encoders.pretrain import view
from encoders.registry import (
    build_conv,
    build_pixels,
    default_encoder,
    preprocess_from_dict,
)
from lfo.analysis.probe import (
    ProbeEncoderConfig,
    build_probe_set,
    encoder_throughput,
    probe_encoder,
)
from lfo.data.video import ClipInfo, probe_files


def main(argv: list[str] | None = None) -> int:
    args = tyro.cli(ProbeEncoderConfig, args=argv, description=__doc__)
    try:
        probe(args)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def probe(args: ProbeEncoderConfig) -> dict:
    torch.set_num_threads(args.threads)
    cfg = args.probe_set()
    paths = build_probe_set(cfg, args.probe_dir / args.env)
    clips = [c for c in probe_files(paths) if isinstance(c, ClipInfo)]
    if len(clips) != len(paths):
        raise RuntimeError(f"{len(paths) - len(clips)} probe clip(s) failed to decode")

    name = args.encoder or default_encoder(args.env)
    main_enc = encoders.load(name, weights=args.weights, game=args.env)
    pre = preprocess_from_dict(main_enc.spec.preprocess, args.env)
    runs = {name: (main_enc, pre)}
    if args.view:
        pre = view(args.env, args.view)
    if args.baselines:
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
    sys.exit(main())
