#!/usr/bin/env python
"""`python scripts/record_videos.py ARGS` runs the `lfo-record-videos` command.

Its code and its --help live in lfo/cli/record_videos.py (installed by `make install`).
"""

import sys

from lfo.cli.record_videos import main

if __name__ == "__main__":
    sys.exit(main())
