"""Latent grids + synthesis network + autoregressive entropy model (Cool-chic / C3 family).

An image is represented by ``levels`` 2-D grids of latents, level ``l`` of size
ceil(H / 2^l) x ceil(W / 2^l), quantised to integers. The decoder upsamples every grid to the
image size (bicubic), and a small synthesis network turns the stacked latents into pixels:
1x1 layers (a per-pixel MLP) then residual 3x3 convolutions. The latents are entropy-coded with
probabilities from the ARM, an MLP that reads a causal neighbourhood of already-decoded latents
of the same grid (``context_offsets``) and predicts a discrete Laplace (mean, log-scale).

This module holds the float network that is trained; :mod:`inrcodec.latent_arm` is the ARM's
exact integer twin that the entropy coder uses, and :mod:`inrcodec.latent_codec` the codec.
"""

from __future__ import annotations

import dataclasses
import math

import equinox as eqx
import jax
import jax.numpy as jnp

from inrcodec.errors import ConfigError
from inrcodec.inr.base import ArchConfig, dense_layer_macs, dense_layer_params, register
from inrcodec.inr.mlp import uniform_layers

# The ARM's log-scale is clipped to this range (natural log of the Laplace scale, in latent units).
LOG_SCALE_MIN, LOG_SCALE_MAX = -3.0, 6.0
UPSAMPLE_MACS = 16  # bicubic: 4x4 taps per pixel and level


@register
@dataclasses.dataclass(frozen=True)
class LatentGridConfig(ArchConfig):
    """Hyper-parameters of the latent-grid codec; the latents themselves are sized by the image."""

    name = "latentgrid"
    wire_code = 4
    levels: int = 7
    latent_step_bits: int = 4
    context_rows: int = 2
    context_cols: int = 2
    arm_width: int = 12
    arm_depth: int = 2
    synth_width: int = 16
    synth_depth: int = 1
    convs: int = 2

    size_field = "synth_width"
    size_range = (1, 256)

    def validate(self) -> None:
        super().validate()
        checks = [
            (self.in_dim == 2, "codes images only (2-D coordinates)"),
            (1 <= self.levels <= 12, "levels must be 1..12"),
            (0 <= self.latent_step_bits <= 8, "latent_step_bits must be 0..8"),
            (0 <= self.context_rows <= 4, "context_rows must be 0..4"),
            (0 <= self.context_cols <= 4, "context_cols must be 0..4"),
            (self.context_size() >= 1, "the context needs at least one neighbour"),
            (1 <= self.arm_width <= 64, "arm_width must be 1..64"),
            (0 <= self.arm_depth <= 4, "arm_depth must be 0..4"),
            (1 <= self.synth_width <= 256, "synth_width must be 1..256"),
            (0 <= self.synth_depth <= 4, "synth_depth must be 0..4"),
            (0 <= self.convs <= 4, "convs must be 0..4"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"latentgrid: {message} (config {self})")

    def latent_step(self) -> float:
        """Latents are integer multiples of this step (a power of two)."""
        return 2.0**-self.latent_step_bits

    def context_size(self) -> int:
        return len(context_offsets(self.context_rows, self.context_cols))

    def arm_sizes(self) -> list[int]:
        return [self.context_size()] + [self.arm_width] * self.arm_depth + [2]

    def synth_sizes(self) -> list[int]:
        return [self.levels] + [self.synth_width] * self.synth_depth + [self.out_dim]

    def param_count(self) -> int:
        conv = 9 * self.out_dim * self.out_dim + self.out_dim
        arm = dense_layer_params(self.arm_sizes()) + 2 * self.context_size()
        return arm + dense_layer_params(self.synth_sizes()) + self.convs * conv

    def latents_per_pixel(self) -> float:
        return sum(4.0**-level for level in range(self.levels))

    def macs_per_sample(self) -> int:
        """Per pixel: the ARM for every latent, the upsampling and the synthesis."""
        arm = self.latents_per_pixel() * (dense_layer_macs(self.arm_sizes()) + 2 * self.context_size())
        upsample = UPSAMPLE_MACS * (self.levels - 1)
        synthesis = dense_layer_macs(self.synth_sizes()) + self.convs * 9 * self.out_dim * self.out_dim
        return math.ceil(arm + upsample + synthesis)

    def build(self, key: jax.Array) -> "LatentGridNet":
        return LatentGridNet(self, key=key)


def context_offsets(rows: int, cols: int) -> tuple[tuple[int, int], ...]:
    """Causal neighbours (row, column offsets): ``rows`` rows above, columns -cols..cols, then
    the ``cols`` latents to the left on the current row. Decoding order is raster within a grid,
    so all of them are known when a latent is decoded."""
    above = [(-r, c) for r in range(rows, 0, -1) for c in range(-cols, cols + 1)]
    return tuple(above + [(0, c) for c in range(-cols, 0)])


def latent_shapes(height: int, width: int, levels: int) -> list[tuple[int, int]]:
    return [(-(-height // 2**level), -(-width // 2**level)) for level in range(levels)]


class LatentGridNet(eqx.Module):
    """The coded networks (not the latents): the ARM and the synthesis."""

    arm_weights: list
    arm_biases: list
    arm_linear: jax.Array  # (K, 2): a linear predictor beside the MLP
    synth_weights: list
    synth_biases: list
    conv_weights: list
    conv_biases: list
    offsets: tuple = eqx.field(static=True)

    def __init__(self, config: LatentGridConfig, *, key: jax.Array):
        arm_key, synth_key = jax.random.split(key)
        self.offsets = context_offsets(config.context_rows, config.context_cols)
        arm_sizes = config.arm_sizes()
        # The ARM starts by predicting mean 0 and scale 1 for every latent, with zero biases so
        # no hidden unit is dead while the latents are still near zero (a random start was seen
        # to leave the ARM blind to the context: twice the rate, depending on the seed).
        arm_weights, _ = uniform_layers(arm_key, arm_sizes, [math.sqrt(6.0 / n) for n in arm_sizes[:-1]])
        self.arm_weights = arm_weights[:-1] + [jnp.zeros_like(arm_weights[-1])]
        self.arm_biases = [jnp.zeros((n,)) for n in arm_sizes[1:]]
        # A linear path from the neighbours to the outputs: the mean always has a gradient
        # toward a weighted average of the context, even while every hidden unit is silent.
        self.arm_linear = jnp.zeros((arm_sizes[0], 2))
        synth_sizes = config.synth_sizes()
        self.synth_weights, self.synth_biases = uniform_layers(
            synth_key, synth_sizes, [math.sqrt(6.0 / n) for n in synth_sizes[:-1]])
        # Residual convolutions start as the identity.
        c = config.out_dim
        self.conv_weights = [jnp.zeros((3, 3, c, c)) for _ in range(config.convs)]
        self.conv_biases = [jnp.zeros((c,)) for _ in range(config.convs)]

    def arm(self, context: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(..., K) neighbours, in units of the latent step -> Laplace mean and log-scale
        (clipped) in the same units, each (...)."""
        h = context
        for w, b in zip(self.arm_weights[:-1], self.arm_biases[:-1]):
            h = jax.nn.relu(h @ w + b)
        out = h @ self.arm_weights[-1] + self.arm_biases[-1] + context @ self.arm_linear
        log_scale = out[..., 1]
        # Clipped like the integer ARM, but with the gradient of the unclipped value: a scale
        # pinned at a bound must still be able to come back.
        clipped = jnp.clip(log_scale, LOG_SCALE_MIN, LOG_SCALE_MAX)
        return out[..., 0], log_scale + jax.lax.stop_gradient(clipped - log_scale)

    def synthesize(self, latents: list[jax.Array], height: int, width: int) -> jax.Array:
        """Latent grids -> (height, width, out_dim) pixels (centred: 0 is mid-grey)."""
        planes = [jax.image.resize(y, (height, width), "cubic") if y.shape != (height, width) else y
                  for y in latents]
        h = jnp.stack(planes, axis=-1)
        for w, b in zip(self.synth_weights[:-1], self.synth_biases[:-1]):
            h = jax.nn.relu(h @ w + b)
        h = h @ self.synth_weights[-1] + self.synth_biases[-1]
        for i, (w, b) in enumerate(zip(self.conv_weights, self.conv_biases)):
            residual = _conv3x3(h, w) + b
            h = h + (jax.nn.relu(residual) if i < len(self.conv_weights) - 1 else residual)
        return h


def _conv3x3(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """'Same' 3x3 convolution of (H, W, C) with (3, 3, C, C), edges replicated."""
    padded = jnp.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
    out = jax.lax.conv_general_dilated(padded[None], kernel, (1, 1), "VALID",
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return out[0]


def grid_contexts(grid: jax.Array, offsets: tuple[tuple[int, int], ...]) -> jax.Array:
    """(h, w) grid -> (h, w, K) values at the causal offsets (zero outside the grid)."""
    rows = max([-dr for dr, _ in offsets] + [0])
    cols = max([abs(dc) for _, dc in offsets] + [0])
    padded = jnp.pad(grid, ((rows, 0), (cols, cols)))
    h, w = grid.shape
    return jnp.stack([padded[rows + dr : rows + dr + h, cols + dc : cols + dc + w] for dr, dc in offsets], axis=-1)
