"""Multiresolution hash grid (Müller et al. 2022, Instant-NGP) + a small ReLU MLP, any dimension.

Level ``l`` has resolution ``N_l`` growing geometrically from ``base_res`` to ``max_res``.
A level whose (N_l + 1)^d vertices fit in ``table_size`` is indexed densely (no collisions);
finer levels hash vertex coordinates into ``table_size`` entries.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from inrcodec.errors import ConfigError
from inrcodec.inr.base import ArchConfig, dense_layer_macs, dense_layer_params, register
from inrcodec.inr.mlp import relu_mlp, uniform_layers

_PRIMES = (1, 2654435761, 805459861, 3674653429)
TABLE_INIT = 1e-4
# Cells per side of the finest level: 2^22 gives one cell per sample to 95 s of 44.1 kHz audio.
MAX_RES = 1 << 22


@register
@dataclasses.dataclass(frozen=True)
class HashGridConfig(ArchConfig):
    """Hyper-parameters of a hash-grid INR. ``max_res = 0`` lets the signal pick it."""

    name = "hashgrid"
    wire_code = 2
    max_res_limit: ClassVar[int] = MAX_RES
    levels: int = 12
    features: int = 2
    table_size: int = 4096
    base_res: int = 8
    max_res: int = 0
    mlp_width: int = 32
    mlp_depth: int = 1

    def validate(self) -> None:
        super().validate()
        checks = [
            (1 <= self.levels <= 32, "levels must be 1..32"),
            (1 <= self.features <= 8, "features must be 1..8"),
            (2 <= self.table_size <= 1 << 22, "table_size must be 2..4194304"),
            (1 <= self.base_res <= MAX_RES, f"base_res must be 1..{MAX_RES}"),
            (self.max_res == 0 or self.base_res <= self.max_res <= MAX_RES, f"max_res must be base_res..{MAX_RES}"),
            (1 <= self.mlp_width <= 512, "mlp_width must be 1..512"),
            (0 <= self.mlp_depth <= 8, "mlp_depth must be 0..8"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"hashgrid: {message} (config {self})")

    def resolutions(self) -> tuple[int, ...]:
        return level_resolutions(self.base_res, self.max_res or self.base_res, self.levels)

    def level_sizes(self) -> tuple[int, ...]:
        return tuple(min((n + 1) ** self.in_dim, self.table_size) for n in self.resolutions())

    size_field = "table_size"
    size_range = (2, 1 << 22)

    def mlp_sizes(self) -> list[int]:
        return [self.levels * self.features] + [self.mlp_width] * self.mlp_depth + [self.out_dim]

    def param_count(self) -> int:
        return sum(self.level_sizes()) * self.features + dense_layer_params(self.mlp_sizes())

    def macs_per_sample(self) -> int:
        corners = 2**self.in_dim
        return self.levels * corners * (self.features + self.in_dim) + dense_layer_macs(self.mlp_sizes())

    def build(self, key: jax.Array) -> "HashGrid":
        return HashGrid(self, key=key)


def level_resolutions(base: int, top: int, levels: int) -> tuple[int, ...]:
    """Geometric ladder base..top in integer arithmetic only, so every machine agrees.

    N_l is the integer nearest to (base^(L-1-l) * top^l)^(1/(L-1)).
    """
    if levels == 1:
        return (top,)
    k = levels - 1
    out = []
    for level in range(levels):
        target = base ** (k - level) * top**level
        root = _integer_root(target, k)
        # pick root or root+1, whichever power is closer to target
        out.append(root + 1 if (root + 1) ** k - target < target - root**k else root)
    return tuple(out)


def _integer_root(value: int, k: int) -> int:
    lo, hi = 0, 1
    while hi**k <= value:
        hi *= 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if mid**k <= value else (lo, mid)
    return lo


class HashGrid(eqx.Module):
    """Hash-grid encoding followed by a ReLU MLP; (N, in_dim) in [-1, 1] -> (N, out_dim)."""

    tables: list
    weights: list
    biases: list
    resolutions: tuple = eqx.field(static=True)
    dense: tuple = eqx.field(static=True)

    def __init__(self, config: HashGridConfig, *, key: jax.Array):
        table_key, mlp_key = jax.random.split(key)
        sizes = config.level_sizes()
        keys = jax.random.split(table_key, config.levels)
        self.tables = [
            jax.random.uniform(k, (s, config.features), minval=-TABLE_INIT, maxval=TABLE_INIT)
            for k, s in zip(keys, sizes)
        ]
        self.resolutions = config.resolutions()
        self.dense = tuple((n + 1) ** config.in_dim <= config.table_size for n in self.resolutions)
        layer_sizes = config.mlp_sizes()
        bounds = [math.sqrt(6.0 / n) for n in layer_sizes[:-1]]
        self.weights, self.biases = uniform_layers(mlp_key, layer_sizes, bounds)

    def encode(self, coords: jax.Array) -> jax.Array:
        """Interpolated grid features, (N, levels * features)."""
        dim = coords.shape[-1]
        corners = jnp.asarray(np.array(list(itertools.product((0, 1), repeat=dim)), dtype=np.int32))
        unit = jnp.clip((coords + 1.0) * 0.5, 0.0, 1.0)
        feats = []
        for table, res, dense in zip(self.tables, self.resolutions, self.dense):
            pos = unit * res
            cell = jnp.minimum(jnp.floor(pos), res - 1).astype(jnp.int32)
            frac = pos - cell
            vertex = cell[:, None, :] + corners[None]  # (N, 2^d, d)
            index = _vertex_index(vertex, res, dense, table.shape[0])
            weight = jnp.prod(jnp.where(corners[None] == 1, frac[:, None, :], 1.0 - frac[:, None, :]), axis=-1)
            feats.append(jnp.einsum("nc,ncf->nf", weight, table[index]))
        return jnp.concatenate(feats, axis=-1)

    def __call__(self, coords: jax.Array) -> jax.Array:
        return relu_mlp(self.encode(coords), self.weights, self.biases)


def _vertex_index(vertex: jax.Array, res: int, dense: bool, size: int) -> jax.Array:
    if dense:
        strides = jnp.asarray([(res + 1) ** i for i in range(vertex.shape[-1])], dtype=jnp.int32)
        return jnp.sum(vertex * strides, axis=-1)
    hashed = jnp.zeros(vertex.shape[:-1], dtype=jnp.uint32)
    for i in range(vertex.shape[-1]):
        hashed = hashed ^ (vertex[..., i].astype(jnp.uint32) * jnp.uint32(_PRIMES[i]))
    return (hashed % jnp.uint32(size)).astype(jnp.int32)
