"""Compiled XLA programs: kept on disk between runs of the command line, released from memory
after each encode in the processes that opt in (the command line and its workers).

Small fits are dominated by compilation: a 64x64 tile takes 28 s on 2 CPU cores the first time
and 8 s once its programs are cached. The cache is JAX's own persistent compilation cache,
keyed by program, options and JAX version, so a stale entry is never used.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from pathlib import Path

CACHE_ENV = "INRCODEC_CACHE_DIR"
_OFF = {"", "0", "off", "none", "false"}


def cache_folder() -> Path | None:
    """``$INRCODEC_CACHE_DIR`` (``off`` disables), else ``$XDG_CACHE_HOME/inrcodec/xla``,
    else ``~/.cache/inrcodec/xla``."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in _OFF else Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "inrcodec" / "xla"


def configure_environment() -> Path | None:
    """Point JAX's persistent cache at :func:`cache_folder` through the environment, before JAX
    is imported, so that worker processes (bench, local Ray) inherit it. Leaves a cache the user
    configured for JAX alone; skips silently when the folder cannot be written."""
    if "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
    folder = cache_folder()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(folder)
    # Cache every program: the many small ones (step search, rendering) add up on small signals.
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    return folder


RELEASE_ENV = "INRCODEC_RELEASE_PROGRAMS"
_release = False


def release_programs(enabled: bool = True) -> None:
    """Opt this process, and the worker processes it starts from now on, into releasing JAX's
    in-memory compiled programs after every encode (see :func:`releases_compiled_programs`).

    For long-running processes that encode many signals: the command line calls it, and through
    the environment its bench worker processes and local Ray workers inherit it. A library caller
    is left alone unless it opts in: its own compiled functions, and the fits it repeats on
    same-shaped signals, keep their compiled programs.
    """
    global _release
    _release = enabled
    os.environ[RELEASE_ENV] = "1" if enabled else "0"


def releasing_programs() -> bool:
    """Whether encodes release JAX's compiled programs in this process."""
    return _release or os.environ.get(RELEASE_ENV, "").strip().lower() not in _OFF


@contextlib.contextmanager
def programs_released():
    """Release compiled programs after every encode within the block (in this process and the
    workers it starts within it), then restore the previous setting."""
    previous_flag, previous_env = _release, os.environ.get(RELEASE_ENV)
    release_programs(True)
    try:
        yield
    finally:
        _set(previous_flag, previous_env)


def _set(flag: bool, env: str | None) -> None:
    global _release
    _release = flag
    if env is None:
        os.environ.pop(RELEASE_ENV, None)
    else:
        os.environ[RELEASE_ENV] = env


def releases_compiled_programs(encode: Callable) -> Callable:
    """Decorate an encoder so that, in a process that opted in (:func:`release_programs`), it
    drops JAX's in-memory compiled programs when it returns.

    Each encode jits dozens of programs (fit, step search, rendering) for its own shapes and
    networks; JAX keeps them all, and each holds memory maps: a process that encoded about 44
    small signals of assorted shapes (1 470 maps each) reached the kernel's 65 530-map limit and
    LLVM aborted. Clearing also drops the process's own compiled functions, which is why only the
    long-running processes that own their JAX (the command line, its bench and batch workers)
    opt in; with the persistent cache above the programs come back from disk.
    """

    @functools.wraps(encode)
    def wrapper(*args, **kwargs):
        try:
            return encode(*args, **kwargs)
        finally:
            if releasing_programs():
                import jax

                jax.clear_caches()

    return wrapper
