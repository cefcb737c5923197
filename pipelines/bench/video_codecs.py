"""Baseline video codecs (x264, x265, SVT-AV1) through the ffmpeg that imageio-ffmpeg bundles.

Each codec reads the source file itself (for a 4:2:0 Y4M: exactly its planes), codes the first
``frames`` frames at one CRF value, and the elementary stream is decoded back to RGB with the
same conversion that produced the reference frames. Rate counts the coded stream only: raw
Annex-B / OBU bytes with no container, minus the SEI messages x264 and x265 fill with their
settings text (several kB: more than a whole low-rate stream of a short QCIF clip). The stripped
stream is what gets decoded, so it is shown to be complete.
"""

from __future__ import annotations

import abc
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pipelines.bench.audio_codecs import _ffmpeg, ffmpeg_version
from pipelines.bench.image_codecs import Coded


class VideoCodec(abc.ABC):
    """A baseline: ``name``, ``encoder``, raw stream ``suffix``, CRF sweep ``qualities`` (lowest
    quality first), fixed ``options``."""

    name: ClassVar[str]
    encoder: ClassVar[str]
    suffix: ClassVar[str]
    qualities: ClassVar[tuple[int, ...]]
    options: ClassVar[tuple[str, ...]]

    @property
    def version(self) -> str:
        return ffmpeg_version()

    @property
    def settings(self) -> dict[str, Any]:
        return {"encoder": self.encoder, "param": "crf", "options": list(self.options), "pix_fmt": "yuv420p",
                "rate": "elementary stream bytes, SEI removed"}

    def encode_decode(self, source: Path, frames: int, height: int, width: int, q: float) -> Coded:
        with tempfile.TemporaryDirectory(prefix="inrcodec-bench-") as tmp:
            coded = Path(tmp) / f"out{self.suffix}"
            start = time.perf_counter()
            _ffmpeg("-i", source, "-map", "0:v:0", "-frames:v", frames, "-fps_mode", "passthrough",
                    "-pix_fmt", "yuv420p", "-c:v", self.encoder, "-crf", f"{q:g}", *self.options,
                    "-map_metadata", "-1", "-fflags", "+bitexact", coded)
            encode_s = time.perf_counter() - start
            stream = self.strip(coded.read_bytes())
            coded.write_bytes(stream)
            start = time.perf_counter()
            raw = _ffmpeg("-i", coded, "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
            decode_s = time.perf_counter() - start
        decoded = np.frombuffer(raw, np.uint8)
        if decoded.size != frames * height * width * 3:
            raise RuntimeError(f"{self.name}: decoded {decoded.size} bytes of RGB for {frames} frames of {width}x{height}")
        return Coded(stream, decoded.reshape(frames, height, width, 3), encode_s, decode_s)

    def strip(self, stream: bytes) -> bytes:
        """The stream without bytes a decoder does not need; none by default."""
        return stream


class X264(VideoCodec):
    name = "x264"
    encoder = "libx264"
    suffix = ".h264"
    qualities = (47, 42, 37, 32, 27, 22, 17)
    options = ("-preset", "medium")

    def strip(self, stream: bytes) -> bytes:
        return drop_nal_units(stream, lambda header: header[0] & 0x1F == 6)  # SEI


class X265(VideoCodec):
    name = "x265"
    encoder = "libx265"
    suffix = ".hevc"
    qualities = (47, 42, 37, 32, 27, 22, 17)
    options = ("-preset", "medium", "-x265-params", "log-level=error")

    def strip(self, stream: bytes) -> bytes:
        return drop_nal_units(stream, lambda header: (header[0] >> 1) & 0x3F in (39, 40))  # prefix/suffix SEI


class SvtAv1(VideoCodec):
    name = "av1"
    encoder = "libsvtav1"
    suffix = ".obu"
    qualities = (60, 53, 46, 39, 32, 25, 18)
    options = ("-preset", "6", "-f", "obu")


VIDEO_CODECS: dict[str, type[VideoCodec]] = {codec.name: codec for codec in (X264, X265, SvtAv1)}


def drop_nal_units(stream: bytes, drop) -> bytes:
    """An Annex-B byte stream without the NAL units for whose header bytes ``drop`` is true."""
    starts = _start_codes(stream)
    kept = []
    for i, (begin, payload) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(stream)
        if payload < end and not drop(stream[payload : payload + 2]):
            kept.append(stream[begin:end])
    return b"".join(kept)


def _start_codes(stream: bytes) -> list[tuple[int, int]]:
    """(start of the start code, start of the NAL unit) for every 00 00 01 / 00 00 00 01."""
    found, i = [], stream.find(b"\x00\x00\x01")
    while i >= 0:
        begin = i - 1 if i > 0 and stream[i - 1] == 0 else i
        found.append((begin, i + 3))
        i = stream.find(b"\x00\x00\x01", i + 3)
    return found
