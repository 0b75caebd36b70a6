"""Write a matplotlib figure to a file all at once (no partial file on error) and close it."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from sublevel.constructions.storage import atomic_output


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
