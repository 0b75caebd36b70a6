"""One module per ``sublevel`` subcommand (see :mod:`checks.cli`)."""
