#!/usr/bin/env python
"""`python scripts/shift_eval.py ARGS` runs the `lfo-shift-eval` command.

Its code and its --help live in lfo/cli/shift_eval.py (installed by `make install`).
"""

import sys

from lfo.cli.shift_eval import main

if __name__ == "__main__":
    sys.exit(main())
