"""The one error type for mistakes a user can make.

The CLI turns an :class:`InputError` into one line on stderr and exit status 2; the API lets it
propagate. It subclasses :class:`ValueError` so ``except ValueError`` keeps working.
"""


class InputError(ValueError):
    """Bad input from the user: a file, a shape, a width, a level, an option."""


class Contradiction(RuntimeError):
    """The package's own results disagree: a proven lower bound above a proven upper bound, a
    negative count, a certified edge across a proven separator, a segment maximum below a loss
    on the segment. Never a user's mistake and never a result: the CLI ends with one line naming
    what disagreed and exit status 3."""
