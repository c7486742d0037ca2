#!/usr/bin/env python
"""`python scripts/pretrain_state_encoder.py ARGS` runs the `lfo-pretrain-state-encoder` command.

Its code and its --help live in lfo/cli/pretrain_state_encoder.py (installed by `make install`).
"""

import sys

from lfo.cli.pretrain_state_encoder import main

if __name__ == "__main__":
    sys.exit(main())
