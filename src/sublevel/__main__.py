"""``python -m sublevel``: the command line (same as the ``sublevel`` script)."""
import sys

from sublevel.cli import main

sys.exit(main())
