"""Long signals as consecutive segments in time, each fitted and coded as its own .inrc file.

A fit holds every sample's coordinates and targets, and the step search renders them all:
memory grows with the signal. ``fit.max_samples`` bounds it. A longer signal is cut along time
into equal segments of at most that many samples (video: whole frames), each encoded as an
independent file; the outer file holds the whole signal's header and the inner files::

    segments chunk = count uvarint | (length uvarint | inner .inrc file)*

Segments are also the natural unit of parallel work: each one is a separate fit.
"""

from __future__ import annotations

import dataclasses
import math

from inrcodec import container
from inrcodec.bitstream import Reader, Writer
from inrcodec.codecs.base import MAX_RENDER_MACS, Encoded
from inrcodec.errors import FormatError
from inrcodec.inr import read_arch
from inrcodec.modalities import read_signal_chunk, write_signal_chunk

MAX_SEGMENTS = 1 << 16


def segment_count(modality, signal, max_samples: int) -> int:
    """How many segments ``signal`` needs so that none holds more than ``max_samples`` samples."""
    total = modality.sample_count(signal.meta)
    if max_samples <= 0 or total <= max_samples:
        return 1
    steps = modality.time_steps(signal.meta)  # frames (video), samples (audio)
    per_step = total // steps
    return math.ceil(steps / max(1, max_samples // per_step))


def encode_segments(modality, signal, config, count: int, encode_one, progress=None):
    """Encode ``signal`` as ``count`` segments, one after another, each with ``encode_one``."""
    segment_config, parts = plan(modality, signal, config, count)
    return assemble(modality, signal, [encode_one(part, segment_config, progress) for part in parts])


def plan(modality, signal, config, count: int):
    """The segments of ``signal`` and the config each is encoded with: the same rate target per
    sample, less a share of the outer file's framing so that the whole file keeps the target.
    The segments are independent: they may be encoded in any order, on any machine."""
    if config.rate.target > 0:
        budget = modality.budget_bits(config.rate.target, signal.meta)
        framing = 8 * (32 + len(write_signal_chunk(modality, signal.meta)) + 4 * count)
        config = dataclasses.replace(config, rate=dataclasses.replace(
            config.rate, target=config.rate.target * max(budget - framing, 1.0) / budget))
    return config, modality.split(signal, count)


def assemble(modality, signal, parts):
    """One ``Encoded`` file from the encoded segments of ``signal``, in time order."""
    w = Writer()
    w.uvarint(len(parts))
    for part in parts:
        w.uvarint(len(part.blob))
        w.raw(part.blob)
    blob = container.pack(container.Container(write_signal_chunk(modality, signal.meta), segments=w.getvalue()))
    psnr = sum(p.search_psnr for p in parts) / len(parts)
    return Encoded(blob, parts[0].arch, psnr, sum(p.fit_seconds for p in parts), max(p.attempts for p in parts))


def inner_files(parsed: container.Container, modality, meta) -> list[bytes]:
    """The inner files of a segmented container, checked to add up to the outer signal."""
    r = Reader(parsed.segments, what="segments chunk")
    count = r.uvarint(limit=MAX_SEGMENTS)
    blobs = [r.raw(r.uvarint(limit=r.remaining())) for _ in range(count)]
    r.expect_end()
    if not blobs:
        raise FormatError("segments chunk holds no segments")
    metas, macs = [], 0
    for i, blob in enumerate(blobs):
        inner = container.unpack(blob)
        if inner.segments is not None:
            raise FormatError(f"segment {i} is itself segmented")
        inner_modality, inner_meta = read_signal_chunk(inner.signal)
        if inner_modality is not modality:
            raise FormatError(f"segment {i} holds {inner_modality.name}, the file {modality.name}")
        metas.append(inner_meta)
        macs += modality.sample_count(inner_meta) * read_arch(inner.model).macs_per_sample()
    modality.check_segments(meta, metas)
    if macs > MAX_RENDER_MACS:  # each segment is checked alone too; this bounds their sum
        raise FormatError(f"rendering the segments takes {macs} MACs, above the decoder's limit of {MAX_RENDER_MACS}")
    return blobs
