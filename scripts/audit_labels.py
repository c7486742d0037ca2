#!/usr/bin/env python
"""`python scripts/audit_labels.py ARGS` runs the `lfo-audit-labels` command.

Its code and its --help live in lfo/cli/audit_labels.py (installed by `make install`).
"""

import sys

from lfo.cli.audit_labels import main

if __name__ == "__main__":
    sys.exit(main())
