"""Byte-level helpers for the compact binary header: varints, zigzag, bounded reads.

Pure Python, no JAX. Every read is bounds-checked and raises FormatError.
"""

from __future__ import annotations

import struct

from inrcodec.errors import FormatError

MAX_VARINT_BYTES = 10


class Writer:
    """Appends compact binary fields to a bytearray."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def uvarint(self, value: int) -> None:
        if value < 0:
            raise ValueError(f"uvarint needs a non-negative value, got {value}")
        while True:
            byte = value & 0x7F
            value >>= 7
            if value:
                self.buf.append(byte | 0x80)
            else:
                self.buf.append(byte)
                return

    def svarint(self, value: int) -> None:
        self.uvarint((value << 1) if value >= 0 else ((-value << 1) - 1))

    def u8(self, value: int) -> None:
        self.buf += struct.pack("<B", value)

    def f32(self, value: float) -> None:
        self.buf += struct.pack("<f", value)

    def f64(self, value: float) -> None:
        self.buf += struct.pack("<d", value)

    def raw(self, data: bytes) -> None:
        self.buf += data

    def getvalue(self) -> bytes:
        return bytes(self.buf)


class Reader:
    """Reads fields written by Writer; never reads past the end of its buffer."""

    def __init__(self, data: bytes, what: str = "header") -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.what = what

    def _need(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.data):
            raise FormatError(f"truncated {self.what}: needs {n} more bytes at offset {self.pos}")

    def uvarint(self, limit: int = 2**63) -> int:
        value, shift = 0, 0
        for _ in range(MAX_VARINT_BYTES):
            self._need(1)
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if value > limit:
                    raise FormatError(f"{self.what}: value {value} exceeds limit {limit}")
                return value
            shift += 7
        raise FormatError(f"{self.what}: malformed varint at offset {self.pos}")

    def svarint(self, limit: int = 2**62) -> int:
        raw = self.uvarint(2 * limit + 1)
        return (raw >> 1) if not raw & 1 else -((raw + 1) >> 1)

    def u8(self) -> int:
        self._need(1)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def f32(self) -> float:
        self._need(4)
        (value,) = struct.unpack_from("<f", self.data, self.pos)
        self.pos += 4
        return value

    def f64(self) -> float:
        self._need(8)
        (value,) = struct.unpack_from("<d", self.data, self.pos)
        self.pos += 8
        return value

    def raw(self, n: int) -> bytes:
        self._need(n)
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def expect_end(self) -> None:
        if self.remaining():
            raise FormatError(f"{self.what}: {self.remaining()} unexpected trailing bytes")
