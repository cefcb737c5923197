"""Safe file access: readable inputs, atomic writes, no silent overwrites, inputs never touched."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from inrcodec.errors import InputError, OutputError


def check_readable_file(path: Path) -> Path:
    """Raise InputError unless ``path`` is an existing, non-empty regular file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give the path of a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    return path


def check_output(path: Path, *, force: bool, inputs: tuple[Path, ...] = ()) -> Path:
    """Raise OutputError if ``path`` may not be written (exists, is an input, bad folder)."""
    path = Path(path)
    for source in inputs:
        if source.exists() and path.exists() and path.resolve() == Path(source).resolve():
            raise OutputError(f"{path}: output would overwrite the input; choose another -o path")
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; give an output file name")
    if path.exists() and not force:
        raise OutputError(f"{path}: already exists; pass --force to overwrite it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{path}: folder {parent} is not writable")
    return path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent or ".")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual mode
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
