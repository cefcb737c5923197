"""Hostile variants of a valid .inrc file, for fuzzing the decoder.

Each mutation takes the file and a seeded ``random.Random`` and returns new bytes. Most variants
also get a recomputed CRC (``fix_crc``): without it nearly every mutation stops at the checksum,
and the parsers behind it would never see hostile fields.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable

from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import InrcodecError

HEADER_BYTES = 6  # magic + major + minor
CRC_BYTES = 4


def fix_crc(blob: bytes) -> bytes:
    """Replace the trailing CRC32 with the checksum of the (mutated) body."""
    body = blob[:-CRC_BYTES] if len(blob) >= HEADER_BYTES + CRC_BYTES else blob
    return body + struct.pack("<I", zlib.crc32(body))


def chunk_spans(blob: bytes) -> list[tuple[int, int, int]]:
    """(offset of the length field, end of the length field, body length) of every chunk."""
    reader = Reader(blob[HEADER_BYTES:-CRC_BYTES], what="container")
    spans = []
    while reader.remaining():
        reader.u8()
        start = reader.pos
        length = reader.uvarint()
        spans.append((HEADER_BYTES + start, HEADER_BYTES + reader.pos, length))
        reader.raw(length)
    return spans


def bit_flips(blob: bytes, rng: random.Random) -> bytes:
    out = bytearray(blob)
    for _ in range(rng.choice((1, 1, 2, 3, 8))):
        position = rng.randrange(len(out) * 8)
        out[position // 8] ^= 1 << (position % 8)
    return bytes(out)


def truncation(blob: bytes, rng: random.Random) -> bytes:
    return blob[: rng.randrange(len(blob))]


def chunk_length_lie(blob: bytes, rng: random.Random) -> bytes:
    """Rewrite one chunk's length field with a wrong value (small lies and huge ones)."""
    start, end, length = rng.choice(chunk_spans(blob))
    lie = rng.choice((0, 1, length - 1, length + 1, length * 2, len(blob), 2**31, 2**63 - 1, rng.randrange(2**20)))
    w = Writer()
    w.uvarint(max(lie, 0))
    return blob[:start] + w.getvalue() + blob[end:]


def random_span(blob: bytes, rng: random.Random) -> bytes:
    """Overwrite a span with random bytes (sometimes everything after the magic)."""
    start = rng.randrange(HEADER_BYTES, len(blob))
    size = rng.choice((1, 2, 4, 16, len(blob)))
    span = bytes(rng.randrange(256) for _ in range(min(size, len(blob) - start)))
    return blob[:start] + span + blob[start + len(span):]


def random_file(blob: bytes, rng: random.Random) -> bytes:
    """Random bytes of a random length behind a valid magic and version."""
    return blob[:HEADER_BYTES] + bytes(rng.randrange(256) for _ in range(rng.randrange(64)))


def version_change(blob: bytes, rng: random.Random) -> bytes:
    major, minor = rng.choice(((blob[4], rng.randrange(256)), (rng.randrange(256), blob[5]), (0, 0), (255, 255)))
    return blob[:4] + bytes((major, minor)) + blob[HEADER_BYTES:]


def repeated_chunk(blob: bytes, rng: random.Random) -> bytes:
    """Duplicate, drop or append a chunk (the framing stays well-formed)."""
    spans = chunk_spans(blob)
    tag_at = rng.randrange(len(spans))
    start = spans[tag_at][0] - 1
    stop = spans[tag_at][1] + spans[tag_at][2]
    chunk = blob[start:stop]
    body = blob[:-CRC_BYTES]
    choice = rng.randrange(3)
    if choice == 0:
        return body[:stop] + chunk + body[stop:] + blob[-CRC_BYTES:]
    if choice == 1:
        return body[:start] + body[stop:] + blob[-CRC_BYTES:]
    optional = bytes((0x80 | rng.randrange(128),)) + chunk[1:]
    return body + optional + blob[-CRC_BYTES:]


def _varints(body: bytes) -> list[tuple[int, int, int]]:
    """(start, end, value) of the unsigned varints after a chunk body's first byte (its code),
    as far as the body reads as varints."""
    reader, out = Reader(body, what="chunk"), []
    try:
        reader.u8()
        while reader.remaining():
            start = reader.pos
            value = reader.uvarint()
            out.append((start, reader.pos, value))
    except InrcodecError:  # the rest is not varints (a float, a table): lie about what came before
        pass
    return out


def header_field_lie(blob: bytes, rng: random.Random) -> bytes:
    """Rewrite one size field of the signal header or the model chunk (the first two chunks:
    height, width, frames, points, depth, levels...) with a large or wrong value, the chunk's
    length kept consistent: the fields that size the decoder's work."""
    start, end, length = rng.choice(chunk_spans(blob)[:2])
    body = blob[end : end + length]
    fields = _varints(body)
    if not fields:
        return bit_flips(blob, rng)
    field_start, field_end, value = rng.choice(fields)
    lie = rng.choice((0, value + 1, 2 * value, 16 * value, 1 << 14, 1 << 16, 1 << 20, 1 << 28, rng.randrange(1 << 16)))
    w = Writer()
    w.uvarint(lie)
    new_body = body[:field_start] + w.getvalue() + body[field_end:]
    size = Writer()
    size.uvarint(len(new_body))
    return blob[:start] + size.getvalue() + new_body + blob[end + length :]


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "bit_flips": bit_flips,
    "truncation": truncation,
    "chunk_length_lie": chunk_length_lie,
    "random_span": random_span,
    "random_file": random_file,
    "version_change": version_change,
    "repeated_chunk": repeated_chunk,
    "header_field_lie": header_field_lie,
}


def mutate(blob: bytes, kind: str, seed: int) -> bytes:
    """One hostile variant of ``blob``; with an odd seed the CRC is left as mutated, else fixed."""
    rng = random.Random(seed)
    out = MUTATIONS[kind](blob, rng)
    return out if seed % 2 else fix_crc(out)
