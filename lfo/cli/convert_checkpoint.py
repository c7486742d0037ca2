"""One-time conversion of a run folder's checkpoints written by an older lfo.

Run folders load without running code: every checkpoint file is read as tensors, containers
and numbers only, and a file that needs more is refused. Older lfo versions pickled numpy
arrays and scalars into checkpoint/state.pt; this rewrites such files as plain data.

    lfo-convert-checkpoint --run runs/carracing-idm-s0
    lfo-convert-checkpoint --run runs/carracing-idm-s0 --dry-run   # only list

The conversion itself runs nothing from the files either: it reads them with the same
weights-only reader plus numpy's array and scalar constructors (numeric dtypes only), so a
file that carries any other object is refused and left as it was. Each converted file is
written beside the old one, read back the safe way, then swapped in.

`python scripts/convert_checkpoint.py` (from a checkout) is the same command.
"""

from __future__ import annotations

import sys

import tyro

from lfo.loop.checkpoint import (
    ConvertConfig,
    convert_older_checkpoint,
    older_checkpoint_files,
)


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(ConvertConfig, args=argv, description=__doc__)
    try:
        todo = older_checkpoint_files(cfg.run)
        if not todo:
            print(f"{cfg.run}: every checkpoint file already loads safely; nothing to do")
            return 0
        for path in todo:
            if cfg.dry_run:
                print(f"would convert {path}")
                continue
            convert_older_checkpoint(path)
            print(f"converted {path}: plain data now, it loads without running code")
    except (FileNotFoundError, ValueError, RuntimeError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
