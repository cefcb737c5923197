"""User-facing errors. Every mistake a user can make raises a subclass of InrcodecError."""


class InrcodecError(Exception):
    """Base class of every error meant for the user (one clear line, no traceback)."""


class InputError(InrcodecError):
    """An input file is missing, unreadable, of the wrong type or holds bad data."""


class OutputError(InrcodecError):
    """An output path cannot be written, or exists and overwriting was not allowed."""


class FormatError(InrcodecError):
    """A .inrc byte string is corrupt, truncated, or of an unsupported version."""


class ConfigError(InrcodecError):
    """A configuration file or option is invalid."""
