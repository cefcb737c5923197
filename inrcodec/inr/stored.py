"""The stored representation: no network, the samples themselves (losslessly compressed).

A tiny signal costs more as a fitted network and its headers than as its raw samples; the
encoder then stores it, so that a file never loses to the raw data by more than a few bytes.
"""

from __future__ import annotations

import dataclasses

from inrcodec.errors import ConfigError
from inrcodec.inr.base import ArchConfig, register

# How the samples are laid out in the payload (before compression), by wire value.
LAYOUTS = {0: "native", 1: "int16", 2: "float32", 3: "float64"}


@register
@dataclasses.dataclass(frozen=True)
class StoredConfig(ArchConfig):
    """``layout``: the samples' type in the payload (``LAYOUTS``): ``native`` is the image's or
    video's own 8- or 16-bit pixels; audio is int16 (PCM of 16 bits or fewer) or float32; point
    positions are float32 where that is exact, else float64."""

    name = "stored"
    wire_code = 6
    layout: int = 0

    size_field = "layout"
    size_range = (0, 0)

    def validate(self) -> None:
        if not 1 <= self.in_dim <= 4 or not 0 <= self.out_dim <= 8:
            raise ConfigError(f"stored: in_dim must be 1..4 and out_dim 0..8, got {self.in_dim}, {self.out_dim}")
        if self.layout not in LAYOUTS:
            raise ConfigError(f"stored: unknown sample layout {self.layout}")

    def param_count(self) -> int:
        return 0

    def macs_per_sample(self) -> int:
        return 0

    def build(self, key):
        raise ConfigError("the stored representation has no network to fit; it is chosen by the encoder")
