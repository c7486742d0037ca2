#!/usr/bin/env python
"""`python scripts/train_lfo.py ARGS` runs the `lfo-train` command.

Its code and its --help live in lfo/cli/train_lfo.py (installed by `make install`).
"""

import sys

from lfo.cli.train_lfo import main

if __name__ == "__main__":
    sys.exit(main())
