#!/usr/bin/env python
"""`python scripts/benchmark.py ARGS` runs the `lfo-benchmark` command.

Its code and its --help live in lfo/cli/benchmark.py (installed by `make install`).
"""

import sys

from lfo.cli.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
