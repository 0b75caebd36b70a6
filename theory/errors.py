"""The one error type for mistakes a user can make.

The CLI turns an :class:`InputError` into one line on stderr and exit status 2; the API lets it
propagate. It subclasses :class:`ValueError` so ``except ValueError`` keeps working.
"""


class InputError(ValueError):
    """Bad input from the user: a file, a shape, a width, a level, an option."""
