"""Encode a clip folder into the feature cache ahead of training, on every core or a cluster.

    lfo-encode-videos --videos videos/pong
    lfo-encode-videos --videos clips/ --executor ray             # Ray workers on this machine
    lfo-encode-videos --videos /nfs/clips --executor ray --ray-address head:6379

The game, encoder and decoding rate are settled as lfo-train settles them (--env,
--encoder and --action-repeat mean the same), and the features land under the keys a run
looks up, so `lfo-train --videos DIR` afterwards starts without encoding. Clips already in
the cache are not encoded again; a file that cannot be decoded is named with its reason
and the others go on. With a cluster, the working directory, the clips and the cache must
be on storage every node mounts at the same path.

`python scripts/encode_videos.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import os
import sys
import warnings

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import tyro

from lfo.cli.train_lfo import one_line_warning
from lfo.data.video import NoUsableClipError
from lfo.scaling.encode_videos import EncodeConfig, encode_videos
from lfo.scaling.ray_cluster import RayMissing


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = one_line_warning
    argv = sys.argv[1:] if argv is None else argv
    cfg = tyro.cli(EncodeConfig, args=argv, description=__doc__)
    try:
        report = encode_videos(cfg)
    except (NoUsableClipError, FileNotFoundError, ValueError, RayMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
