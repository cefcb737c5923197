"""Point-cloud fields: the occupancy context network, and optionally a colour hash grid.

The occupancy network is evaluated in fixed point by :mod:`inrcodec.occupancy`; the colour field
is an ordinary hash grid over the cloud's bounding cube, (x, y, z) in [-1, 1] -> RGB.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax

from inrcodec.errors import ConfigError
from inrcodec.inr.base import ArchConfig, dense_layer_macs, dense_layer_params, register
from inrcodec.inr.hashgrid import HashGrid, HashGridConfig
from inrcodec.occupancy import FEATURES, ContextMLP
from inrcodec.octree import MAX_DEPTH


@register
@dataclasses.dataclass(frozen=True)
class PointFieldsConfig(ArchConfig):
    """``depth``: voxel grid of 2^depth cells per axis. ``out_dim``: 0 (geometry only) or 3 (RGB)."""

    name = "pointfields"
    wire_code = 3
    in_dim: int = 3
    out_dim: int = 0
    depth: int = 10
    context_width: int = 16
    context_depth: int = 2
    colour_levels: int = 8
    colour_features: int = 2
    colour_table_size: int = 512
    colour_base_res: int = 4
    colour_max_res: int = 128
    colour_mlp_width: int = 16

    size_field = "context_width"
    size_range = (1, 64)

    def validate(self) -> None:
        checks = [
            (self.in_dim == 3, "in_dim must be 3"),
            (self.out_dim in (0, 3), "out_dim must be 0 (no colour) or 3 (RGB)"),
            (1 <= self.depth <= MAX_DEPTH, f"depth must be 1..{MAX_DEPTH}"),
            (1 <= self.context_width <= 64, "context_width must be 1..64"),
            (1 <= self.context_depth <= 4, "context_depth must be 1..4"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"pointfields: {message} (config {self})")
        if self.out_dim:
            self.colour_config().validate()

    def colour_config(self) -> HashGridConfig:
        return HashGridConfig(in_dim=3, out_dim=3, levels=self.colour_levels, features=self.colour_features,
                              table_size=self.colour_table_size, base_res=self.colour_base_res,
                              max_res=self.colour_max_res, mlp_width=self.colour_mlp_width, mlp_depth=1)

    def context_sizes(self) -> list[int]:
        return [FEATURES] + [self.context_width] * self.context_depth + [1]

    def param_count(self) -> int:
        colour = self.colour_config().param_count() if self.out_dim else 0
        return dense_layer_params(self.context_sizes()) + colour

    def macs_per_sample(self) -> int:
        """MACs per decoded point: 8 candidate children per occupied cell, plus its colour."""
        colour = self.colour_config().macs_per_sample() if self.out_dim else 0
        return 8 * dense_layer_macs(self.context_sizes()) + colour

    def build(self, key: jax.Array) -> "PointFields":
        return PointFields(self, key=key)


class PointFields(eqx.Module):
    context: ContextMLP
    colour: HashGrid | None

    def __init__(self, config: PointFieldsConfig, *, key: jax.Array):
        context_key, colour_key = jax.random.split(key)
        self.context = ContextMLP(config.context_width, config.context_depth, context_key)
        self.colour = HashGrid(config.colour_config(), key=colour_key) if config.out_dim else None
