"""The .inrc container: bytes only, no JAX.

Layout::

    magic "INRC" | major u8 | minor u8 | chunk* | crc32 (u32 little-endian of all previous bytes)
    chunk = tag u8 | length uvarint | body

Tags below 0x80 are required chunks the decoder must understand; tags with the high bit set
are optional and skipped by a decoder that does not know them. Wire codes never change once
released.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib

from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import FormatError

MAGIC = b"INRC"
FORMAT_MAJOR = 1
FORMAT_MINOR = 8  # 1.1 added the geometry chunk, 1.2 the segments chunk, 1.3 the latents chunk,
# 1.4 tensor entropy models that name their decay by its index in a table, 1.5 the frames chunk,
# 1.6 the noise chunk, 1.7 the gains chunk, 1.8 noise levels of later channels from the channel before
MAX_FILE_BYTES = 1 << 31  # 2 GiB: anything larger is not a file this version writes

TAG_SIGNAL = 0x01  # modality code + modality metadata
TAG_MODEL = 0x02  # architecture code + hyper-parameters
TAG_TENSORS = 0x03  # tensor table: quantization step and entropy model per tensor
TAG_PAYLOAD = 0x04  # entropy-coded integers
TAG_GEOMETRY = 0x05  # entropy-coded octree of a point cloud (only in point-cloud files)
# A signal coded as consecutive segments in time, each a complete .inrc file of its own: in
# place of the model, tensors and payload chunks (see inrcodec/segments.py).
TAG_SEGMENTS = 0x06
TAG_LATENTS = 0x07  # entropy-coded latent grids (only in latent-grid image files)
TAG_FRAMES = 0x08  # a video's coded frames, one after the other (only in motionvideo files)
TAG_NOISE = 0x09  # band energies of audio above a cutoff, filled with noise (inrcodec/codecs/noise_fill.py)
TAG_GAINS = 0x0A  # audio's band energy corrections after the network (inrcodec/codecs/band_gains.py)
OPTIONAL_FLAG = 0x80

REQUIRED_TAGS = (TAG_SIGNAL, TAG_MODEL, TAG_TENSORS, TAG_PAYLOAD)
TAG_NAMES = {TAG_SIGNAL: "signal", TAG_MODEL: "model", TAG_TENSORS: "tensors", TAG_PAYLOAD: "payload",
             TAG_GEOMETRY: "geometry", TAG_SEGMENTS: "segments", TAG_LATENTS: "latents",
             TAG_FRAMES: "frames", TAG_NOISE: "noise", TAG_GAINS: "gains"}


@dataclasses.dataclass(frozen=True)
class Container:
    """The parsed chunks of one .inrc file."""

    signal: bytes
    model: bytes = b""
    tensors: bytes = b""
    payload: bytes = b""
    geometry: bytes | None = None
    segments: bytes | None = None
    latents: bytes | None = None
    frames: bytes | None = None
    noise: bytes | None = None
    gains: bytes | None = None
    version: tuple[int, int] = (FORMAT_MAJOR, FORMAT_MINOR)
    skipped_optional: int = 0

    def chunk_sizes(self) -> dict[str, int]:
        return {TAG_NAMES[t]: len(b) for t, b in self._tagged()}

    def _tagged(self) -> list[tuple[int, bytes]]:
        if self.segments is not None:
            return [(TAG_SIGNAL, self.signal), (TAG_SEGMENTS, self.segments)]
        chunks = list(zip(REQUIRED_TAGS, (self.signal, self.model, self.tensors, self.payload)))
        specific = [(TAG_GEOMETRY, self.geometry), (TAG_LATENTS, self.latents), (TAG_FRAMES, self.frames),
                    (TAG_NOISE, self.noise), (TAG_GAINS, self.gains)]
        return chunks + [(tag, body) for tag, body in specific if body is not None]


def pack(container: Container) -> bytes:
    """Serialise the chunks into one checksummed .inrc byte string."""
    w = Writer()
    w.raw(MAGIC)
    w.u8(FORMAT_MAJOR)
    w.u8(FORMAT_MINOR)
    for tag, body in container._tagged():
        w.u8(tag)
        w.uvarint(len(body))
        w.raw(body)
    body = w.getvalue()
    return body + struct.pack("<I", zlib.crc32(body))


def unpack(blob: bytes) -> Container:
    """Parse and verify a .inrc byte string; raises FormatError on any defect."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise FormatError(f"expected bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) > MAX_FILE_BYTES:
        raise FormatError(f"file of {len(blob)} bytes exceeds the {MAX_FILE_BYTES}-byte limit")
    if blob[: len(MAGIC)] != MAGIC[: len(blob)] or not blob:
        raise FormatError("not an .inrc file (bad magic bytes)")
    if len(blob) < len(MAGIC) + 2 + 4:
        raise FormatError(f"truncated .inrc file: {len(blob)} bytes, shorter than any header")
    major, minor = blob[4], blob[5]
    if major != FORMAT_MAJOR:
        raise FormatError(
            f"unsupported .inrc format version {major}.{minor}; this inrcodec reads version "
            f"{FORMAT_MAJOR}.x — upgrade inrcodec"
        )
    body, (crc,) = blob[:-4], struct.unpack("<I", blob[-4:])
    if zlib.crc32(body) != crc:
        raise FormatError("checksum mismatch: the file is corrupt or truncated")
    r = Reader(body[6:], what="container")
    chunks: dict[int, bytes] = {}
    skipped = 0
    while r.remaining():
        tag = r.u8()
        length = r.uvarint(limit=r.remaining())
        data = r.raw(length)
        if tag & OPTIONAL_FLAG:
            skipped += 1
            continue
        if tag not in TAG_NAMES:
            raise FormatError(f"unknown required chunk 0x{tag:02x}; upgrade inrcodec")
        if tag in chunks:
            raise FormatError(f"duplicate {TAG_NAMES[tag]} chunk")
        chunks[tag] = data
    if TAG_SEGMENTS in chunks:
        extra = [TAG_NAMES[t] for t in chunks if t not in (TAG_SIGNAL, TAG_SEGMENTS)]
        if TAG_SIGNAL not in chunks or extra:
            raise FormatError(f"a segmented file holds a signal and a segments chunk only, not {extra or 'no signal'}")
        return Container(chunks[TAG_SIGNAL], segments=chunks[TAG_SEGMENTS], version=(major, minor),
                         skipped_optional=skipped)
    missing = [TAG_NAMES[t] for t in REQUIRED_TAGS if t not in chunks]
    if missing:
        raise FormatError(f"missing chunk(s): {', '.join(missing)}")
    return Container(*(chunks[t] for t in REQUIRED_TAGS), geometry=chunks.get(TAG_GEOMETRY),
                     latents=chunks.get(TAG_LATENTS), frames=chunks.get(TAG_FRAMES), noise=chunks.get(TAG_NOISE),
                     gains=chunks.get(TAG_GAINS), version=(major, minor),
                     skipped_optional=skipped)
