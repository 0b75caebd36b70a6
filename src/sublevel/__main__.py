"""``python -m sublevel``: the command line (same as the ``sublevel`` script)."""
import sys

from sublevel.checks.cli import main

sys.exit(main())
