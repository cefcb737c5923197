"""inrcodec: compress signals by overfitting a small neural network to each one.

Heavy modules (JAX) load lazily, so ``import inrcodec`` and the CLI's ``--help`` stay fast.
"""

from inrcodec.compile_cache import release_programs
from inrcodec.errors import ConfigError, FormatError, InputError, InrcodecError, OutputError
from inrcodec.signal import Signal

__version__ = "0.3.0"

_API = ("encode", "encode_report", "decode", "decode_integers", "info", "load", "save", "to_open3d")

__all__ = ["ConfigError", "FormatError", "InputError", "InrcodecError", "OutputError", "Signal", "release_programs",
           *_API]


def __getattr__(name: str):
    if name in _API:
        from inrcodec import api

        return getattr(api, name)
    raise AttributeError(f"module 'inrcodec' has no attribute {name!r}")
