import struct
import zlib

import pytest

from inrcodec import container
from inrcodec.errors import FormatError


def _sample() -> container.Container:
    return container.Container(b"sig", b"model", b"table", b"payload-bytes")


def test_pack_unpack_round_trip():
    parsed = container.unpack(container.pack(_sample()))
    assert (parsed.signal, parsed.model, parsed.tensors, parsed.payload) == (b"sig", b"model", b"table", b"payload-bytes")
    assert parsed.version == (container.FORMAT_MAJOR, container.FORMAT_MINOR)


def _recrc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_decode_rejects_bad_magic():
    blob = bytearray(container.pack(_sample()))
    blob[0] ^= 0xFF
    with pytest.raises(FormatError, match="magic"):
        container.unpack(bytes(blob))


@pytest.mark.parametrize("cut", [1, 4, 10, 20])
def test_decode_rejects_truncated_file(cut):
    blob = container.pack(_sample())
    with pytest.raises(FormatError):
        container.unpack(blob[:-cut])


def test_decode_rejects_flipped_bit():
    blob = bytearray(container.pack(_sample()))
    blob[12] ^= 0x10
    with pytest.raises(FormatError, match="checksum"):
        container.unpack(bytes(blob))


def test_decode_rejects_unknown_major_version():
    body = container.pack(_sample())[:-4]
    body = body[:4] + bytes([container.FORMAT_MAJOR + 1]) + body[5:]
    with pytest.raises(FormatError, match="version"):
        container.unpack(_recrc(body))


def test_unknown_optional_chunk_is_skipped_and_unknown_required_chunk_rejected():
    body = container.pack(_sample())[:-4]
    optional = _recrc(body + bytes([0x90, 3]) + b"xyz")
    assert container.unpack(optional).skipped_optional == 1
    with pytest.raises(FormatError, match="unknown required chunk"):
        container.unpack(_recrc(body + bytes([0x10, 3]) + b"xyz"))


def test_chunk_length_beyond_file_is_rejected():
    body = container.pack(_sample())[:-4]
    lying = body[:6] + bytes([container.TAG_SIGNAL]) + bytes([0xFF, 0xFF, 0x03]) + body[8:]
    with pytest.raises(FormatError):
        container.unpack(_recrc(lying))


def test_missing_chunk_is_rejected():
    header = container.MAGIC + bytes([container.FORMAT_MAJOR, 0])
    with pytest.raises(FormatError, match="missing"):
        container.unpack(_recrc(header + bytes([container.TAG_SIGNAL, 1]) + b"s"))
