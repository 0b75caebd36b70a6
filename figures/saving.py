"""Write a matplotlib figure to a file all at once (no partial file on error) and close it."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from sublevel.constructions.storage import atomic_output


def check_figure_path(path: str | os.PathLike) -> Path:
    """``path`` if matplotlib can write its format (from the suffix; none means PNG) into an
    existing folder; checked before any work, so a bad name never leaves other outputs behind.

    Raises
    ------
    InputError
        On an unknown format, a missing folder or a path that is a folder.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from sublevel.theory.errors import InputError

    path = Path(path)
    kind = path.suffix.lstrip(".").lower() or "png"
    known = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if kind not in known:
        raise InputError(f"cannot draw {path}: unknown figure format {kind!r} (known: {', '.join(sorted(known))})")
    if path.is_dir() or not (path.parent if str(path.parent) else Path(".")).is_dir():
        raise InputError(f"cannot write {path}: {'it is a folder' if path.is_dir() else 'no such folder'}")
    return path


def save_figure(fig, path: str | os.PathLike, format: str | None = None, dpi: int = 150,
                close: bool = True, **savefig) -> Path:
    """Save ``fig`` to ``path`` atomically (format from the suffix unless given; PNG without
    one), then close it unless ``close=False`` (to save it again in another format).
    Extra keywords go to ``Figure.savefig``."""
    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format=format or path.suffix.lstrip(".") or "png", dpi=dpi, **savefig)
    if close and "matplotlib.pyplot" in sys.modules:  # a figure made through pyplot is registered there
        sys.modules["matplotlib.pyplot"].close(fig)
    return path
