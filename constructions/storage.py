"""Files: written all at once or not at all, and .npz archives read without unpickling.

Every file the package writes goes through :func:`atomic_output` (directly or through
:func:`write_text`, :func:`write_json` and :func:`write_npz`): the content goes to a temporary
file beside the target, is flushed to disk (``fsync``), and replaces the target only when
writing succeeded; the folder is then fsynced too, so an error, an interrupt or a crash leaves
either the old file or the new one, never a partial file. The file gets the permissions the
user's umask gives a new file. Every .npz the package reads goes through :func:`read_npz`
(``allow_pickle=False``, one error line naming the file for anything unreadable).
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from sublevel.theory.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on success move it to ``path``, on failure delete it."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(target))
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(2, "No such directory", str(directory))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a new file gets the umask's mode
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(directory)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fsync(path: str | os.PathLike) -> None:
    """Flush a file's or a folder's data to disk (folders: where the platform allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # folders cannot be opened on some platforms (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically and durably."""
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, data: Any, indent: int | None = 1) -> None:
    """Write ``data`` as JSON to ``path`` atomically and durably."""
    write_text(path, json.dumps(data, indent=indent))


def write_npz(path: str | os.PathLike, metadata: dict[str, Any] | None = None, **arrays: Any) -> None:
    """Write ``arrays`` (and ``metadata`` as a JSON string, sorted keys) to an .npz atomically.

    :func:`read_npz` reads it back without unpickling.
    """
    if metadata is not None:
        arrays["metadata"] = np.array(json.dumps(metadata, sort_keys=True))
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)  # never writes what read_npz would refuse


def read_npz(path: str | os.PathLike, what: str, required: tuple[str, ...] = ()) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays and JSON metadata (the ``metadata`` entry, ``{}`` if absent) of an .npz file.

    Never unpickles (``allow_pickle=False``). ``what`` names the kind of file in errors.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    InputError
        If the file is not a readable .npz, lacks one of ``required``, holds object arrays, or
        its metadata is not a JSON object.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such file or directory", path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in required if name not in archive.files]
            if missing:
                raise InputError(f"{path}: not a {what} (missing {', '.join(missing)})")
            arrays = {name: archive[name] for name in archive.files if name != "metadata"}
            meta_text = str(archive["metadata"]) if "metadata" in archive.files else "{}"
    except InputError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise InputError(f"{path}: cannot read as a {what} .npz ({err.__class__.__name__}: {err})") from None
    try:
        metadata = json.loads(meta_text)
    except json.JSONDecodeError:
        raise InputError(f"{path}: metadata is not valid JSON") from None
    if not isinstance(metadata, dict):
        raise InputError(f"{path}: metadata must be a JSON object")
    return arrays, metadata
