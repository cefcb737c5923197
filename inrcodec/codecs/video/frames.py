"""The frames chunk of a motionvideo file: one record per frame, in display order.

Layout::

    frames chunk = record*            (exactly ``frames`` records)
    record       = kind u8 | length uvarint | body
    I body       = a complete .inrc file of the frame as an image (latent-grid codec)
    P body       = flags u8 | [motion length uvarint | motion chunk] | [latents chunk]
                   flags bit 0: motion vectors follow; bit 1: residual latents follow
                   (without motion the prediction is the reference itself; without residual
                   the frame is the prediction)
"""

from __future__ import annotations

import dataclasses

from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import FormatError

INTRA, PREDICTED = 0, 1
KIND_NAMES = {INTRA: "I", PREDICTED: "P"}
HAS_MOTION, HAS_RESIDUAL = 1, 2


@dataclasses.dataclass(frozen=True)
class Record:
    """One coded frame: an I frame's image file, or a P frame's motion and residual chunks."""

    kind: int
    image: bytes = b""
    motion: bytes | None = None
    residual: bytes | None = None

    def body(self) -> bytes:
        if self.kind == INTRA:
            return self.image
        w = Writer()
        w.u8((HAS_MOTION if self.motion is not None else 0) | (HAS_RESIDUAL if self.residual is not None else 0))
        if self.motion is not None:
            w.uvarint(len(self.motion))
            w.raw(self.motion)
        return w.getvalue() + (self.residual or b"")

    def write(self, w: Writer) -> None:
        body = self.body()
        w.u8(self.kind)
        w.uvarint(len(body))
        w.raw(body)

    def size(self) -> int:
        w = Writer()
        self.write(w)
        return len(w.getvalue())


def encode(records: list[Record]) -> bytes:
    w = Writer()
    for record in records:
        record.write(w)
    return w.getvalue()


def decode(data: bytes, frames: int) -> list[Record]:
    """The chunk's records; FormatError unless it holds exactly ``frames`` of them and the
    first is an I frame."""
    r = Reader(data, what="frames chunk")
    records = []
    for _ in range(frames):
        if not r.remaining():
            raise FormatError(f"frames chunk holds {len(records)} frames, the header declares {frames}")
        kind = r.u8()
        if kind not in KIND_NAMES:
            raise FormatError(f"unknown frame kind {kind}")
        body = Reader(r.raw(r.uvarint(limit=r.remaining())), what="frame record")
        records.append(_read_body(kind, body))
    r.expect_end()
    if records and records[0].kind != INTRA:
        raise FormatError("the first frame of a video must be an I frame")
    return records


def _read_body(kind: int, r: Reader) -> Record:
    if kind == INTRA:
        return Record(INTRA, image=r.raw(r.remaining()))
    flags = r.u8()
    if flags & ~(HAS_MOTION | HAS_RESIDUAL):
        raise FormatError(f"unknown P-frame flags {flags:#x}")
    motion = r.raw(r.uvarint(limit=r.remaining())) if flags & HAS_MOTION else None
    residual = r.raw(r.remaining()) if flags & HAS_RESIDUAL else None
    r.expect_end()
    return Record(PREDICTED, motion=motion, residual=residual)
