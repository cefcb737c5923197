"""The Signal: numpy data plus the metadata needed to write it back. No JAX here."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass
class Signal:
    """A decoded or loaded signal.

    ``data`` layout depends on the modality (image: HxWxC uint8/uint16; audio: (samples,
    channels) float32 in [-1, 1]; point cloud: (N, 3) float64 positions).
    ``meta`` holds modality-specific facts (bit depth, sample rate, ...); ``attributes`` holds
    per-sample arrays beside ``data`` (point colours: (N, 3) uint8 under ``"colors"``).
    """

    modality: str
    data: np.ndarray
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    attributes: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def sample_rate(self) -> int | None:
        """Samples per second of a time signal (audio); None for other modalities."""
        return self.meta.get("sample_rate")
