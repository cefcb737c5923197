"""The interface every modality implements, and the registry of frozen wire codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import ConfigError, FormatError, InputError
from inrcodec.inr import ArchConfig
from inrcodec.signal import Signal

# Decoding allocates the coordinates and outputs of every rendered sample: bound them before
# anything is allocated (2^28 is a 16k x 16k image, or 1.7 hours of 44.1 kHz audio).
MAX_RENDER_SAMPLES = 1 << 28
# ... and the work: 2^44 MACs is hours on a CPU core; a full Kodak image takes 2^29.
MAX_RENDER_MACS = 1 << 44


class Modality:
    """One kind of signal: file I/O, coordinates and targets, rendering, metrics, metadata."""

    name: ClassVar[str]
    wire_code: ClassVar[int]
    coord_dim: ClassVar[int]  # input dimension of the network: 2 for (x, y), 1 for time
    extensions: ClassVar[tuple[str, ...]]
    rate_unit: ClassVar[str]
    writes_folders: ClassVar[bool] = False  # a path without extension is written as a folder

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

    def search_target(self, signal: Signal) -> tuple[np.ndarray, float]:
        """What the step search compares outputs with, (N, C) float32 in sample order, and its peak."""
        raise NotImplementedError

    def search_output(self, values, peak: float):
        """Jittable: network outputs -> the values a user would save, in the target's units."""
        raise NotImplementedError

    def encode(self, signal: Signal, config, progress=None):
        """Fit and code ``signal`` into an ``encoder.Encoded``: one INR over all samples, or one
        per segment when there are more than ``fit.max_samples``."""
        from inrcodec.segments import encode_segments, segment_count

        count = segment_count(self, signal, config.fit.max_samples)
        encode_one = self.part_encoder(config)
        if count > 1:
            return encode_segments(self, signal, config, count, encode_one, progress)
        return encode_one(signal, config, progress)

    def part_encoder(self, config):
        """``encode(signal, config, progress)`` for one signal or segment under ``config``."""
        from inrcodec.encoder import encode_signal

        return encode_signal

    def fits_one_network(self, config) -> bool:
        """Whether ``encode`` fits one INR to all samples under ``config`` (the path that
        ``encoder.encode_signals`` can pack), rather than a codec of its own."""
        return True

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

    def decode(self, parsed, meta: dict[str, Any], arch: ArchConfig, scale: float, fps_scale: float = 1.0) -> Signal:
        """Rebuild the signal from a parsed container: render the INR at every sample."""
        if fps_scale != 1.0:
            raise ConfigError(f"--fps-scale applies to video; this file holds {self.name}")
        samples = round(self.sample_count(meta) * scale**arch.in_dim)
        values = self.render(parsed, arch, samples, lambda: self.render_coords(meta, scale))
        return self.from_values(values, meta, scale)

    def render(self, parsed, arch: ArchConfig, samples: int, make_coords) -> np.ndarray:
        """The network of a parsed container at ``make_coords()``, after checking that ``samples``
        renders are within the decoder's memory and work limits (nothing is allocated before)."""
        import jax.numpy as jnp

        from inrcodec import weights
        from inrcodec.fit import render

        if parsed.geometry is not None or parsed.latents is not None:
            raise FormatError(f"unexpected {'geometry' if parsed.geometry is not None else 'latents'} chunk "
                              f"in a {self.name} file of this architecture")
        if samples > MAX_RENDER_SAMPLES:
            raise ConfigError(f"a render of {samples:.0f} samples exceeds the limit of {MAX_RENDER_SAMPLES}; "
                              "use a smaller --scale")
        if samples * arch.macs_per_sample() > MAX_RENDER_MACS:
            raise FormatError(f"a render of {samples:.0f} samples at {arch.macs_per_sample()} MACs each exceeds "
                              f"the decoder's limit of {MAX_RENDER_MACS} MACs")
        model = weights.decode(arch, parsed.tensors, parsed.payload)
        values = np.asarray(render(model, jnp.asarray(make_coords())))
        if not np.all(np.isfinite(values)):
            raise FormatError("decoded network produced non-finite values; the file is corrupt")
        return values


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
