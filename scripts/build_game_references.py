#!/usr/bin/env python
"""`python scripts/build_game_references.py ARGS` runs the `lfo-build-game-references` command.

Its code and its --help live in lfo/cli/build_game_references.py (installed by `make install`).
"""

import sys

from lfo.cli.build_game_references import main

if __name__ == "__main__":
    sys.exit(main())
