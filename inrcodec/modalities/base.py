"""The interface every modality implements, and the registry of frozen wire codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import FormatError, InputError
from inrcodec.inr import ArchConfig
from inrcodec.signal import Signal


class Modality:
    """One kind of signal: file I/O, coordinates and targets, rendering, metrics, metadata."""

    name: ClassVar[str]
    wire_code: ClassVar[int]
    coord_dim: ClassVar[int]  # input dimension of the network: 2 for (x, y), 1 for time
    extensions: ClassVar[tuple[str, ...]]
    rate_unit: ClassVar[str]

    def read(self, path: Path) -> Signal:
        raise NotImplementedError

    def write(self, signal: Signal, path: Path) -> None:
        raise NotImplementedError

    def samples(self, signal: Signal) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates in [-1, 1]^d (float32, (N, d)) and normalised targets (float32, (N, C))."""
        raise NotImplementedError

    def render_coords(self, meta: dict[str, Any], scale: float) -> np.ndarray:
        raise NotImplementedError

    def from_values(self, values: np.ndarray, meta: dict[str, Any], scale: float) -> Signal:
        """Network outputs at ``render_coords`` -> a Signal in the input's own units."""
        raise NotImplementedError

    def adapt(self, arch: ArchConfig, signal: Signal) -> ArchConfig:
        """Set input/output sizes (and resolution-dependent fields) of an architecture."""
        raise NotImplementedError

    def check_arch(self, arch: ArchConfig, meta: dict[str, Any]) -> None:
        """Raise FormatError unless the network maps this modality's coordinates to its channels."""
        if arch.in_dim != self.coord_dim or arch.out_dim != meta["channels"]:
            raise FormatError(f"network maps {arch.in_dim}-D coordinates to {arch.out_dim} values, but the "
                              f"{self.name} needs {self.coord_dim}-D coordinates and {meta['channels']} channels")

    def metrics(self, original: Signal, decoded: Signal) -> dict[str, float]:
        raise NotImplementedError

    def rate(self, nbytes: int, meta: dict[str, Any]) -> dict[str, float]:
        raise NotImplementedError

    def sample_count(self, meta: dict[str, Any]) -> int:
        raise NotImplementedError

    def budget_bits(self, target: float, meta: dict[str, Any]) -> float:
        """File size in bits allowed by a rate target in this modality's unit."""
        raise NotImplementedError

    def write_meta(self, meta: dict[str, Any], w: Writer) -> None:
        raise NotImplementedError

    def read_meta(self, r: Reader) -> dict[str, Any]:
        raise NotImplementedError

    def search_distortion(self, signal: Signal):
        """A jittable ``psnr(values)`` of network outputs at all sample coordinates."""
        raise NotImplementedError


def check_readable_file(path: Path) -> Path:
    """Raise InputError unless ``path`` is an existing, non-empty regular file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give the path of a file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    return path


REGISTRY: dict[str, Modality] = {}
BY_WIRE_CODE: dict[int, Modality] = {}


def register(modality: Modality) -> Modality:
    REGISTRY[modality.name] = modality
    BY_WIRE_CODE[modality.wire_code] = modality
    return modality


def write_signal_chunk(modality: Modality, meta: dict[str, Any]) -> bytes:
    w = Writer()
    w.u8(modality.wire_code)
    modality.write_meta(meta, w)
    return w.getvalue()


def read_signal_chunk(data: bytes) -> tuple[Modality, dict[str, Any]]:
    r = Reader(data, what="signal header")
    code = r.u8()
    if code not in BY_WIRE_CODE:
        raise FormatError(f"unknown modality code {code}; upgrade inrcodec")
    modality = BY_WIRE_CODE[code]
    meta = modality.read_meta(r)
    r.expect_end()
    return modality, meta


def modality_for_path(path: Path) -> Modality:
    suffix = Path(path).suffix.lower()
    for modality in REGISTRY.values():
        if suffix in modality.extensions:
            return modality
    known = sorted(ext for m in REGISTRY.values() for ext in m.extensions)
    raise InputError(f"{path}: unsupported file type {suffix or '(none)'!r}; supported: {' '.join(known)}")
