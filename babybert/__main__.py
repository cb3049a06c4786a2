"""`python -m babybert ...`: the command line (babybert/cli)."""

import sys

from babybert.cli import main

if __name__ == "__main__":
    sys.exit(main())
