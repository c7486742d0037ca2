#!/usr/bin/env python
"""`python scripts/measure_expert.py ARGS` runs the `lfo-measure-expert` command.

Its code and its --help live in lfo/cli/measure_expert.py (installed by `make install`).
"""

import sys

from lfo.cli.measure_expert import main

if __name__ == "__main__":
    sys.exit(main())
