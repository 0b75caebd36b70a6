"""One module per ``sublevel`` subcommand (see :mod:`sublevel.checks.cli`)."""
