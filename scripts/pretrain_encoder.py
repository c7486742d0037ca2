#!/usr/bin/env python
"""`python scripts/pretrain_encoder.py ARGS` runs the `lfo-pretrain-encoder` command.

Its code and its --help live in lfo/cli/pretrain_encoder.py (installed by `make install`).
"""

import sys

from lfo.cli.pretrain_encoder import main

if __name__ == "__main__":
    sys.exit(main())
