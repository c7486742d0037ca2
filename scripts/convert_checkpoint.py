#!/usr/bin/env python
"""`python scripts/convert_checkpoint.py ARGS` runs the `lfo-convert-checkpoint` command.

Its code and its --help live in lfo/cli/convert_checkpoint.py (installed by `make install`).
"""

import sys

from lfo.cli.convert_checkpoint import main

if __name__ == "__main__":
    sys.exit(main())
