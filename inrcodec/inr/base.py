"""What every architecture shares: frozen configs that serialise field by field, and a registry.

A config's fields (in declaration order) are its wire format: ``int`` fields as varints,
``float`` fields as float32. Never reorder or retype a released field; add a new wire code.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax

from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import ConfigError, FormatError

MAX_INT_FIELD = 1 << 24


@dataclasses.dataclass(frozen=True)
class ArchConfig:
    """Base of every architecture config. Subclasses declare typed fields and limits."""

    name: ClassVar[str]
    wire_code: ClassVar[int]
    in_dim: int = 2
    out_dim: int = 3

    def validate(self) -> None:
        """Raise ConfigError for values outside what the format and the decoder accept."""
        if not 1 <= self.in_dim <= 4:
            raise ConfigError(f"{self.name}: in_dim must be 1..4, got {self.in_dim}")
        if not 1 <= self.out_dim <= 8:
            raise ConfigError(f"{self.name}: out_dim must be 1..8, got {self.out_dim}")

    # The integer field that scales the network's size, and its allowed range.
    size_field: ClassVar[str]
    size_range: ClassVar[tuple[int, int]]

    def build(self, key: jax.Array):
        raise NotImplementedError

    def param_count(self) -> int:
        raise NotImplementedError

    def macs_per_sample(self) -> int:
        """Multiply-accumulates to decode one sample (pixel, audio sample, voxel)."""
        raise NotImplementedError

    def resized(self, max_params: int) -> "ArchConfig":
        """The largest config along ``size_field`` with at most ``max_params`` parameters."""
        lo, hi = self.size_range
        if self.replace(**{self.size_field: lo}).param_count() > max_params:
            return self.replace(**{self.size_field: lo})
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if self.replace(**{self.size_field: mid}).param_count() <= max_params else (lo, mid)
        return self.replace(**{self.size_field: lo})

    def write(self, w: Writer) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type in ("int", int):
                w.uvarint(int(value))
            else:
                w.f32(float(value))

    @classmethod
    def read(cls, r: Reader) -> "ArchConfig":
        values = {}
        for field in dataclasses.fields(cls):
            values[field.name] = r.uvarint(limit=MAX_INT_FIELD) if field.type in ("int", int) else r.f32()
        config = cls(**values)
        try:
            config.validate()
        except ConfigError as exc:
            raise FormatError(f"model header out of bounds: {exc}") from None
        return config

    def replace(self, **changes) -> "ArchConfig":
        return dataclasses.replace(self, **changes)


REGISTRY: dict[str, type[ArchConfig]] = {}
BY_WIRE_CODE: dict[int, type[ArchConfig]] = {}


def register(cls: type[ArchConfig]) -> type[ArchConfig]:
    """Class decorator: add an architecture config under its name and frozen wire code."""
    if cls.wire_code in BY_WIRE_CODE:
        raise RuntimeError(f"wire code {cls.wire_code} registered twice")
    REGISTRY[cls.name] = cls
    BY_WIRE_CODE[cls.wire_code] = cls
    return cls


def write_arch(config: ArchConfig) -> bytes:
    w = Writer()
    w.u8(config.wire_code)
    config.write(w)
    return w.getvalue()


def read_arch(data: bytes) -> ArchConfig:
    r = Reader(data, what="model header")
    code = r.u8()
    if code not in BY_WIRE_CODE:
        raise FormatError(f"unknown architecture code {code}; upgrade inrcodec")
    config = BY_WIRE_CODE[code].read(r)
    r.expect_end()
    return config


def dense_layer_params(sizes: list[int]) -> int:
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def dense_layer_macs(sizes: list[int]) -> int:
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def config_from_dict(values: dict) -> ArchConfig:
    """Build an architecture config from a YAML mapping with a ``name`` key (strict keys)."""
    values = dict(values)
    name = values.pop("name", None)
    if name not in REGISTRY:
        raise ConfigError(f"unknown architecture {name!r}; choose one of {sorted(REGISTRY)}")
    cls = REGISTRY[name]
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown key(s) for architecture {name}: {', '.join(unknown)}")
    try:
        typed = {k: (int(v) if known[k].type in ("int", int) else float(v)) for k, v in values.items()}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"architecture {name}: {exc}") from None
    config = cls(**typed)
    config.validate()
    return config
