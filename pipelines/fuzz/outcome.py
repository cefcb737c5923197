"""What the decoder does with one byte string: decodes it, or refuses it cleanly, or fails."""

from __future__ import annotations

DECODED = "decoded"
CLEAN_ERROR = "clean error"
OTHER_EXCEPTION = "other exception"
TIMEOUT = "timeout"
OUTCOMES = (DECODED, CLEAN_ERROR, OTHER_EXCEPTION, TIMEOUT)


def decode_outcome(blob: bytes) -> tuple[str, str]:
    """(outcome, detail) of ``inrcodec.info`` then ``inrcodec.decode`` on ``blob``."""
    import inrcodec

    try:
        inrcodec.info(blob)
        inrcodec.decode(blob)
    except inrcodec.InrcodecError as exc:
        return CLEAN_ERROR, f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # anything else is a decoder bug: report it, do not hide it
        return OTHER_EXCEPTION, f"{type(exc).__name__}: {exc}"
    return DECODED, ""
