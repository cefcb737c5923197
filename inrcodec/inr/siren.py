"""SIREN: an MLP with sine activations (Sitzmann et al. 2020), any input dimension."""

from __future__ import annotations

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp

from inrcodec.errors import ConfigError
from inrcodec.inr.base import ArchConfig, dense_layer_macs, dense_layer_params, register
from inrcodec.inr.mlp import uniform_layers


@register
@dataclasses.dataclass(frozen=True)
class SirenConfig(ArchConfig):
    """Hyper-parameters of a SIREN; ``depth`` counts hidden layers."""

    name = "siren"
    wire_code = 1
    width: int = 64
    depth: int = 4
    w0: float = 30.0
    w0_first: float = 30.0

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.width <= 1024 or not 1 <= self.depth <= 16:
            raise ConfigError(f"siren: width must be 1..1024 and depth 1..16, got {self.width}, {self.depth}")
        if not (0 < self.w0 <= 1e4 and 0 < self.w0_first <= 1e4):
            raise ConfigError(f"siren: w0 and w0_first must be in (0, 1e4], got {self.w0}, {self.w0_first}")

    size_field = "width"
    size_range = (2, 1024)

    def layer_sizes(self) -> list[int]:
        return [self.in_dim] + [self.width] * self.depth + [self.out_dim]

    def param_count(self) -> int:
        return dense_layer_params(self.layer_sizes())

    def macs_per_sample(self) -> int:
        return dense_layer_macs(self.layer_sizes())

    def build(self, key: jax.Array) -> "Siren":
        return Siren(self, key=key)


class Siren(eqx.Module):
    """Sine-activated MLP mapping (N, in_dim) coordinates in [-1, 1] to (N, out_dim) values."""

    weights: list
    biases: list
    w0: float = eqx.field(static=True)
    w0_first: float = eqx.field(static=True)

    def __init__(self, config: SirenConfig, *, key: jax.Array):
        sizes = config.layer_sizes()
        # SIREN init: first layer U(±1/in), later layers U(±sqrt(6/in)/w0).
        bounds = [1.0 / config.in_dim] + [math.sqrt(6.0 / n) / config.w0 for n in sizes[1:-1]]
        self.weights, self.biases = uniform_layers(key, sizes, bounds)
        self.w0 = config.w0
        self.w0_first = config.w0_first

    def __call__(self, coords: jax.Array) -> jax.Array:
        h = coords
        for i, (w, b) in enumerate(zip(self.weights[:-1], self.biases[:-1])):
            h = jnp.sin((self.w0_first if i == 0 else self.w0) * (h @ w + b))
        return h @ self.weights[-1] + self.biases[-1]
