#!/usr/bin/env python
"""`python scripts/encode_videos.py ARGS` runs the `lfo-encode-videos` command.

Its code and its --help live in lfo/cli/encode_videos.py (installed by `make install`).
"""

import sys

from lfo.cli.encode_videos import main

if __name__ == "__main__":
    sys.exit(main())
