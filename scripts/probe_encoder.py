#!/usr/bin/env python
"""`python scripts/probe_encoder.py ARGS` runs the `lfo-probe-encoder` command.

Its code and its --help live in lfo/cli/probe_encoder.py (installed by `make install`).
"""

import sys

from lfo.cli.probe_encoder import main

if __name__ == "__main__":
    sys.exit(main())
