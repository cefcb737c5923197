"""The stored codec: the samples themselves, deflate-compressed, decoded exactly.

The encoder falls back to it when a signal is so small that its fitted network and headers
would take more bytes than its samples (:func:`smaller_of`); ``--set arch.name=stored`` asks
for it outright. The payload is the samples in one of ``inr.stored.LAYOUTS``, little-endian, in
the signal's own order (point clouds: positions, then colours), as a raw deflate stream
(zlib; the container's CRC covers the file).
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from typing import Any

import numpy as np

from inrcodec import container
from inrcodec.codecs.base import Codec, Encoded, Progress
from inrcodec.errors import ConfigError, FormatError
from inrcodec.inr import ArchConfig, StoredConfig, write_arch
from inrcodec.modalities import REGISTRY, Modality, write_signal_chunk
from inrcodec.signal import Signal

# Only signals of at most this many bytes of samples are tried stored: past it a network wins.
MAX_TRIED_BYTES = 1 << 20
# The most samples a stored file may hold (asked for with arch.name=stored), and deflate's
# largest expansion: a header that claims more than its payload can inflate to is refused
# before anything is inflated.
MAX_STORED_BYTES = 1 << 28
MAX_INFLATE_RATIO = 1032
# Audio formats whose samples are multiples of 2^-15 in [-1, 1): int16 holds them exactly.
INT16_SUBTYPES = ("PCM_S8", "PCM_U8", "PCM_16")


class StoredCodec(Codec):
    archs = ("stored",)
    modalities = ("image", "audio", "video", "pointcloud")

    def encode(self, signal: Signal, config=None, progress: Progress | None = None) -> Encoded:
        start = time.perf_counter()
        modality = REGISTRY[signal.modality]
        if signal.data.nbytes > MAX_STORED_BYTES:
            raise ConfigError(f"a stored {signal.modality} holds at most {MAX_STORED_BYTES} bytes of samples; "
                              "choose a network architecture")
        layout = _layout(signal)
        arch = StoredConfig(in_dim=modality.coord_dim, out_dim=_channels(modality, signal.meta), layout=layout)
        deflater = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: no zlib header or checksum
        payload = deflater.compress(_sample_bytes(signal, layout)) + deflater.flush()
        blob = container.pack(container.Container(write_signal_chunk(modality, signal.meta), write_arch(arch), b"",
                                                  payload))
        return Encoded(blob, arch, float("inf"), time.perf_counter() - start, 1)

    def decode(self, parsed: container.Container, modality: Modality, meta: dict[str, Any], arch: ArchConfig,
               scale: float, fps_scale: float) -> Signal:
        if scale != 1.0 or fps_scale != 1.0:
            raise ConfigError("this file stores its samples exactly; it decodes at its own size only "
                              "(no --scale or --fps-scale)")
        return _signal(_inflate(parsed, modality, meta, arch), modality, meta, arch)

    def integers(self, parsed, modality, meta, arch) -> list[np.ndarray]:
        return [np.frombuffer(_inflate(parsed, modality, meta, arch), np.uint8)]

    def describe(self, parsed, modality, meta, arch) -> dict[str, Any]:
        _check_layout(parsed, modality, arch)
        return {"parameters": 0, "macs_per_sample": 0, "tensors": [],
                "stored": {"layout": arch.layout, "bytes": _expected_bytes(modality, meta, arch)}}

    def check_arch(self, arch: ArchConfig, modality: Modality, meta: dict[str, Any]) -> None:
        if arch.in_dim != modality.coord_dim or arch.out_dim != _channels(modality, meta):
            raise FormatError(f"stored samples of {arch.out_dim} channels do not match the {modality.name} header")


def smaller_of(encoded: Encoded, signal: Signal) -> Encoded:
    """The encoded file, or the stored samples where they take no more bytes."""
    if signal.data.nbytes > MAX_TRIED_BYTES:
        return encoded
    stored = STORED_CODEC.encode(signal)
    if len(stored.blob) > len(encoded.blob):
        return encoded
    return dataclasses.replace(stored, fit_seconds=encoded.fit_seconds + stored.fit_seconds)  # the fit was spent too


def _channels(modality: Modality, meta: dict[str, Any]) -> int:
    """Values per sample: colour channels of a point cloud (0 or 3), else the header's channels."""
    return (3 if meta["colour"] else 0) if modality.name == "pointcloud" else int(meta["channels"])


def _layout(signal: Signal) -> int:
    if signal.modality in ("image", "video"):
        return 0
    if signal.modality == "audio":
        return 1 if signal.meta.get("subtype") in INT16_SUBTYPES else 2
    exact = np.array_equal(signal.data.astype(np.float32).astype(np.float64), signal.data)
    return 2 if exact else 3


def _sample_bytes(signal: Signal, layout: int) -> bytes:
    if layout == 0:
        return np.ascontiguousarray(signal.data).astype(signal.data.dtype.newbyteorder("<")).tobytes()
    if layout == 1:
        return np.round(signal.data * 32768.0).clip(-32768, 32767).astype("<i2").tobytes()
    dtype = "<f4" if layout == 2 else "<f8"
    data = signal.data.astype(dtype).tobytes()
    if signal.modality == "pointcloud" and "colors" in signal.attributes:
        data += signal.attributes["colors"].astype(np.uint8).tobytes()
    return data


def _shape_and_dtype(modality: Modality, meta: dict[str, Any], arch: StoredConfig) -> tuple[tuple[int, ...], str]:
    if modality.name == "image":
        return (meta["height"], meta["width"], meta["channels"]), "<u2" if meta["bits"] == 16 else "u1"
    if modality.name == "video":
        return (meta["frames"], meta["height"], meta["width"], 3), "u1"
    if modality.name == "audio":
        return (meta["frames"], meta["channels"]), "<i2" if arch.layout == 1 else "<f4"
    return (meta["points"], 3), "<f4" if arch.layout == 2 else "<f8"


def _expected_bytes(modality: Modality, meta: dict[str, Any], arch: StoredConfig) -> int:
    shape, dtype = _shape_and_dtype(modality, meta, arch)
    colours = 3 * meta["points"] if modality.name == "pointcloud" and meta["colour"] else 0
    return int(np.prod(shape)) * np.dtype(dtype).itemsize + colours


def _inflate(parsed: container.Container, modality: Modality, meta: dict[str, Any], arch: ArchConfig) -> bytes:
    """The payload's samples; the header's size bounds what is inflated, before any of it is."""
    _check_layout(parsed, modality, arch)
    expected = _expected_bytes(modality, meta, arch)
    if expected > min(MAX_STORED_BYTES, MAX_INFLATE_RATIO * len(parsed.payload) + 64):
        raise FormatError(f"the header declares {expected} bytes of stored samples, more than the "
                          f"{len(parsed.payload)}-byte payload can hold")
    inflater = zlib.decompressobj(-15)
    try:
        data = inflater.decompress(parsed.payload, expected)
    except zlib.error as exc:
        raise FormatError(f"stored samples do not inflate ({exc})") from None
    if len(data) != expected or inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
        raise FormatError(f"stored samples are not the {expected} bytes the header declares")
    return data


def _check_layout(parsed: container.Container, modality: Modality, arch: StoredConfig) -> None:
    if parsed.tensors or parsed.geometry is not None or parsed.latents is not None:
        raise FormatError("a stored file holds its samples in the payload only")
    if arch.layout == 0 and modality.name not in ("image", "video") or \
            arch.layout != 0 and modality.name in ("image", "video") or \
            arch.layout == 1 and modality.name != "audio" or arch.layout == 3 and modality.name != "pointcloud":
        raise FormatError(f"stored layout {arch.layout} does not fit a {modality.name}")


def _signal(data: bytes, modality: Modality, meta: dict[str, Any], arch: StoredConfig) -> Signal:
    shape, dtype = _shape_and_dtype(modality, meta, arch)
    count = int(np.prod(shape)) * np.dtype(dtype).itemsize
    values = np.frombuffer(data[:count], dtype).reshape(shape)
    if modality.name == "image":
        return Signal("image", values.astype(np.uint16 if meta["bits"] == 16 else np.uint8), dict(meta))
    if modality.name == "video":
        return Signal("video", values.copy(), dict(meta))
    if modality.name == "audio":
        samples = values.astype(np.float32) / np.float32(32768.0) if arch.layout == 1 else values.astype(np.float32)
        return Signal("audio", samples, dict(meta))
    points = values.astype(np.float64)
    if not np.all(np.isfinite(points)):
        raise FormatError("stored point positions are not finite")
    attributes = {"colors": np.frombuffer(data[count:], np.uint8).reshape(-1, 3).copy()} if meta["colour"] else {}
    return Signal("pointcloud", points, dict(meta, input_points=meta["points"]), attributes)


STORED_CODEC = StoredCodec()
