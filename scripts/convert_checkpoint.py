#!/usr/bin/env python
"""One-time conversion of a run folder's checkpoints written by an older lfo.

Run folders load without running code: every checkpoint file is read as tensors, containers
and numbers only, and a file that needs more is refused. Older lfo versions pickled numpy
arrays and scalars into checkpoint/state.pt; this rewrites such files as plain data.

    python scripts/convert_checkpoint.py --run runs/carracing-idm-s0
    python scripts/convert_checkpoint.py --run runs/carracing-idm-s0 --dry-run   # only list

The conversion itself runs nothing from the files either: it reads them with the same
weights-only reader plus numpy's array and scalar constructors (numeric dtypes only), so a
file that carries any other object is refused and left as it was. Each converted file is
written beside the old one, read back the safe way, then swapped in.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tyro  # noqa: E402

from lfo.data.safe_load import (  # noqa: E402
    UnsafeCheckpoint,
    load_legacy,
    safe_load,
    safe_save,
)


@dataclass
class ConvertConfig:
    run: Path
    """Run folder (config.json + checkpoint/) whose checkpoint files to convert."""
    dry_run: bool = False
    """Only list the files that need converting; change nothing."""


def checkpoint_files(run: Path) -> list[Path]:
    """The ``.pt`` files of ``run``'s checkpoint and of its older copy."""
    folders = [run / name for name in ("checkpoint", "checkpoint.old") if (run / name).is_dir()]
    if not folders:
        raise FileNotFoundError(f"{run} has no checkpoint/ folder: nothing to convert")
    return sorted(path for folder in folders for path in folder.glob("*.pt"))


def needs_conversion(path: Path) -> bool:
    """Whether ``path`` is refused by the safe reader (corrupt files raise as they are)."""
    try:
        safe_load(path)
    except UnsafeCheckpoint:
        return True
    return False


def convert(path: Path) -> None:
    """Rewrite one older checkpoint file as plain data, swapped in only once it loads the
    safe way (a file that cannot be converted is left as it was)."""
    data = load_legacy(path)  # refuses anything but numeric numpy arrays and scalars
    new = path.with_name(path.name + ".converted")
    try:
        safe_save(data, new)
        safe_load(new)
        os.replace(new, path)
    finally:
        new.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    cfg = tyro.cli(ConvertConfig, args=argv, description=__doc__)
    try:
        files = checkpoint_files(cfg.run)
        todo = [path for path in files if needs_conversion(path)]
        if not todo:
            print(f"{cfg.run}: all {len(files)} checkpoint files already load safely")
            return 0
        for path in todo:
            if cfg.dry_run:
                print(f"would convert {path}")
                continue
            convert(path)
            print(f"converted {path}: plain data now, it loads without running code")
    except (FileNotFoundError, ValueError, RuntimeError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
