"""Compiled XLA programs: kept on disk between runs of the command line, released from memory
after each encode.

Small fits are dominated by compilation: a 64x64 tile takes 28 s on 2 CPU cores the first time
and 8 s once its programs are cached. The cache is JAX's own persistent compilation cache,
keyed by program, options and JAX version, so a stale entry is never used.
"""

from __future__ import annotations

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


def releases_compiled_programs(encode: Callable) -> Callable:
    """Decorate an encoder so that it drops JAX's in-memory compiled programs when it returns.

    Each encode jits dozens of programs (fit, step search, rendering) for its own shapes and
    networks; JAX keeps them all, and each holds memory maps: a process that encoded about 44
    small signals (1 470 maps each) reached the kernel's 65 530-map limit and LLVM aborted.
    Clearing also drops the caller's own compiled functions; with the persistent cache above
    they come back from disk.
    """

    @functools.wraps(encode)
    def wrapper(*args, **kwargs):
        import jax

        try:
            return encode(*args, **kwargs)
        finally:
            jax.clear_caches()

    return wrapper
