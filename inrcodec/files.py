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


def check_output(path: Path, *, force: bool, inputs: tuple[Path, ...] = (), coded_from: Path | None = None) -> Path:
    """Raise OutputError if ``path`` may not be written (exists, is an input, bad folder).

    ``coded_from``: the .inrc being decoded. An existing file of the same name beside it is
    most likely the original it was coded from: it is never replaced without ``force``, and
    the advice is another name, not ``--force``."""
    path = Path(path)
    for source in inputs:
        if source.exists() and path.exists() and path.resolve() == Path(source).resolve():
            raise OutputError(f"{path}: output would overwrite the input; choose another -o path")
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; give an output file name")
    if path.exists() and not force:
        if coded_from is not None and _same_stem_beside(path, Path(coded_from)):
            raise OutputError(f"{path}: already exists and may be the original {coded_from} was coded from; "
                              "choose another -o path")
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


def _same_stem_beside(path: Path, coded: Path) -> bool:
    return path.resolve().parent == coded.resolve().parent and path.stem == coded.stem
