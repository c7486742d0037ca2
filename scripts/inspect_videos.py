#!/usr/bin/env python
"""`python scripts/inspect_videos.py ARGS` runs the `lfo-inspect-videos` command.

Its code and its --help live in lfo/cli/inspect_videos.py (installed by `make install`).
"""

import sys

from lfo.cli.inspect_videos import main

if __name__ == "__main__":
    sys.exit(main())
