"""The interface every modality implements: what a kind of signal is, with no codec knowledge."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import ConfigError, FormatError
from inrcodec.signal import Signal


class Modality:
    """One kind of signal: file I/O, coordinates and targets, rendering, metrics, header fields."""

    name: ClassVar[str]
    wire_code: ClassVar[int]
    coord_dim: ClassVar[int]  # dimension of the coordinates: 2 for (x, y), 1 for time
    extensions: ClassVar[tuple[str, ...]]
    rate_unit: ClassVar[str]
    writes_folders: ClassVar[bool] = False  # a path without extension is written as a folder
    default_suffix: ClassVar[str]  # what a decoded file is written as when no name is given

    def conversion_hint(self, path: Path) -> str | None:
        """How to convert a file of a format this modality knows but does not read, or None."""
        return None

    def read(self, path: Path) -> Signal:
        raise NotImplementedError

    def write(self, signal: Signal, path: Path) -> None:
        raise NotImplementedError

    def samples(self, signal: Signal) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates in [-1, 1]^d (float32, (N, d)) and normalised targets (float32, (N, C))."""
        raise NotImplementedError

    def resolution(self, meta: dict[str, Any]) -> int:
        """Samples along the longest axis: the finest detail a field over the signal can hold."""
        raise NotImplementedError

    def render_shape(self, meta: dict[str, Any], scale: float, fps_scale: float = 1.0) -> tuple[int, ...]:
        """The sample grid a decoder renders: the coded one, or resized by ``scale`` (and, for a
        video, ``fps_scale`` along time)."""
        raise NotImplementedError

    def render_axes(self, meta: dict[str, Any], scale: float, fps_scale: float = 1.0) -> list[tuple[int, float]]:
        """(samples, extent) of each axis of ``render_shape``, in coordinate order (the first
        varies fastest in ``samples``' order); an axis's coordinates are its samples' centres
        spread over [-extent, extent] (:func:`grid_coords`)."""
        raise NotImplementedError

    def render_coords(self, meta: dict[str, Any], scale: float, fps_scale: float = 1.0,
                      start: int = 0, stop: int | None = None) -> np.ndarray:
        """Coordinates of the samples ``start..stop-1`` of ``render_shape`` (all by default), in
        ``samples``' order: a render made a part at a time needs no more than its output."""
        return grid_coords(self.render_axes(meta, scale, fps_scale), start, stop)

    def output_values(self, values: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
        """Network outputs (N, C), normalised like ``samples``' targets -> the decoded samples in
        the input's own units and dtype; sample by sample, so a render can convert a part at a time."""
        raise NotImplementedError

    def signal_of(self, samples: np.ndarray, meta: dict[str, Any], scale: float, fps_scale: float = 1.0) -> Signal:
        """The Signal of ``output_values`` at every sample of ``render_shape``."""
        raise NotImplementedError

    def from_values(self, values: np.ndarray, meta: dict[str, Any], scale: float, fps_scale: float = 1.0) -> Signal:
        """Outputs at ``render_coords`` (normalised like ``samples``' targets) -> a Signal in the
        input's own units."""
        return self.signal_of(self.output_values(values, meta), meta, scale, fps_scale)

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

    # Whether the weight codec may code side information on this modality's spectrum: its top
    # band as noise (a "noise" chunk) and corrections of its band energies (a "gains" chunk).
    spectral_side_info: ClassVar[bool] = False

    def loss_weights(self, targets: np.ndarray, meta: dict[str, Any], strength: float) -> np.ndarray | None:
        """Weights (P, N) of mean 1 for each sample's squared error when fitting ``targets``
        (P, N, C) of signals like ``meta``; None: all alike."""
        return None

    def search_target(self, signal: Signal) -> tuple[np.ndarray, float]:
        """What a quality search compares outputs with, (N, C) float32 in sample order, and its peak."""
        raise NotImplementedError

    def search_output(self, values, peak: float):
        """Outputs (a NumPy or JAX array) -> the values a user would save, in the target's units."""
        raise NotImplementedError

    # Segments along time (inrcodec/segments.py): modalities whose data has time on axis 0 and
    # whose header counts it in ``frames`` name the header fields every segment shares.
    segment_fields: ClassVar[tuple[str, ...]] = ()

    def time_steps(self, meta: dict[str, Any]) -> int:
        """Length of the time axis that segments cut (frames, samples); 1 without one."""
        return meta["frames"] if self.segment_fields else 1

    def split(self, signal: Signal, count: int) -> list[Signal]:
        if not self.segment_fields:
            raise ConfigError(f"a {self.name} cannot be coded in segments; raise fit.max_samples")
        return [Signal(self.name, np.ascontiguousarray(part), dict(signal.meta, frames=len(part)))
                for part in np.array_split(signal.data, count)]

    def join(self, parts: list[Signal]) -> Signal:
        return Signal(self.name, np.concatenate([p.data for p in parts]),
                      dict(parts[0].meta, frames=sum(p.data.shape[0] for p in parts)))

    def check_segments(self, meta: dict[str, Any], parts: list[dict[str, Any]]) -> None:
        """Raise FormatError unless segments with headers ``parts`` make up the signal ``meta``."""
        if not self.segment_fields:
            raise FormatError(f"a {self.name} file cannot hold segments")
        if any(p[k] != meta[k] for p in parts for k in self.segment_fields) or \
                sum(p["frames"] for p in parts) != meta["frames"]:
            raise FormatError(f"the segments do not make up the {self.name} in the header "
                              f"({', '.join(self.segment_fields)} or length)")


def grid_coords(axes: list[tuple[int, float]], start: int = 0, stop: int | None = None) -> np.ndarray:
    """(stop - start, len(axes)) float32: the points ``start..stop-1`` of a grid whose axes
    have ``(samples, extent)`` each (the first varying fastest), made only for those points."""
    stop = math.prod(n for n, _ in axes) if stop is None else stop
    index = np.arange(start, stop, dtype=np.int64)
    columns = []
    for n, extent in axes:
        columns.append(((2.0 * (index % n) + 1.0) / n - 1.0).astype(np.float32) * np.float32(extent))
        index //= n
    return np.stack(columns, axis=-1)
