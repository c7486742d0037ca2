#!/usr/bin/env python
"""`python scripts/bench_loop.py ARGS` runs the `lfo-bench-loop` command.

Its code and its --help live in lfo/cli/bench_loop.py (installed by `make install`).
"""

import sys

from lfo.cli.bench_loop import main

if __name__ == "__main__":
    sys.exit(main())
