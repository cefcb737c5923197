"""Latent grids + synthesis network + autoregressive entropy model (Cool-chic / C3 family).

An image is represented by ``levels`` 2-D grids of latents, level ``l`` of size
ceil(H / 2^l) x ceil(W / 2^l), quantized to integers; a video (``latentvideo``) by 3-D grids
of ceil(T / 2^l) x ceil(H / 2^l) x ceil(W / 2^l). The decoder upsamples every grid to the
signal's size (cubic along each axis), and a small synthesis network turns the stacked latents
into pixels: 1x1 layers (a per-pixel MLP) then residual 3x3 convolutions within each frame. The
latents are entropy-coded with probabilities from the ARM, an MLP that reads a causal
neighbourhood of already-decoded latents of the same grid (``offsets``) and predicts a discrete
Laplace (mean, log-scale).

This module holds the float network that is trained; :mod:`inrcodec.latent_arm` is the ARM's
exact integer twin that the entropy coder uses, and :mod:`inrcodec.codecs.latent` the codec.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from inrcodec.errors import ConfigError
from inrcodec.inr.base import ArchConfig, dense_layer_macs, dense_layer_params, register
from inrcodec.inr.mlp import uniform_layers

# The ARM's log-scale is clipped to this range (natural log of the Laplace scale, in latent units).
LOG_SCALE_MIN, LOG_SCALE_MAX = -3.0, 6.0
UPSAMPLE_TAPS = 4  # cubic: 4 taps per axis, 4^d per pixel and level


@register
@dataclasses.dataclass(frozen=True)
class LatentGridConfig(ArchConfig):
    """Hyper-parameters of the latent-grid codec; the latents themselves are sized by the image."""

    name = "latentgrid"
    wire_code = 4
    coord_dims: ClassVar[int] = 2  # the grids' axes: (rows, columns)
    codes: ClassVar[str] = "images only (2-D coordinates); videos take latentvideo"
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

    def field_checks(self) -> list[tuple[bool, str]]:
        """(holds, message) for the range of each field: checked before anything derived from
        them is computed (a header may hold any value)."""
        return [
            (self.in_dim == self.coord_dims, f"codes {self.codes}"),
            (1 <= self.levels <= 12, "levels must be 1..12"),
            (0 <= self.latent_step_bits <= 8, "latent_step_bits must be 0..8"),
            (0 <= self.context_rows <= 4, "context_rows must be 0..4"),
            (0 <= self.context_cols <= 4, "context_cols must be 0..4"),
            (1 <= self.arm_width <= 64, "arm_width must be 1..64"),
            (0 <= self.arm_depth <= 4, "arm_depth must be 0..4"),
            (1 <= self.synth_width <= 256, "synth_width must be 1..256"),
            (0 <= self.synth_depth <= 4, "synth_depth must be 0..4"),
            (0 <= self.convs <= 4, "convs must be 0..4"),
        ]

    def validate(self) -> None:
        super().validate()
        for ok, message in self.field_checks():
            if not ok:
                raise ConfigError(f"{self.name}: {message} (config {self})")
        if self.context_size() < 1:
            raise ConfigError(f"{self.name}: the context needs at least one neighbour (config {self})")

    def latent_step(self) -> float:
        """Latents are integer multiples of this step (a power of two)."""
        return 2.0**-self.latent_step_bits

    def offsets(self) -> tuple[tuple[int, ...], ...]:
        """The ARM's causal neighbours, as offsets along the grids' axes."""
        return context_offsets(self.context_rows, self.context_cols)

    def context_size(self) -> int:
        return len(self.offsets())

    def signal_shape(self, meta) -> tuple[int, ...]:
        """The coded signal's grid of pixels, from its header."""
        return meta["height"], meta["width"]

    def grid_shapes(self, shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """The latent grids of a signal of ``shape`` pixels: halved along every axis per level."""
        return [tuple(-(-n // 2**level) for n in shape) for level in range(self.levels)]

    def arm_sizes(self) -> list[int]:
        return [self.context_size()] + [self.arm_width] * self.arm_depth + [2]

    def synth_sizes(self) -> list[int]:
        return [self.levels] + [self.synth_width] * self.synth_depth + [self.out_dim]

    def param_count(self) -> int:
        conv = 9 * self.out_dim * self.out_dim + self.out_dim
        arm = dense_layer_params(self.arm_sizes()) + 2 * self.context_size()
        return arm + dense_layer_params(self.synth_sizes()) + self.convs * conv

    def latents_per_pixel(self) -> float:
        return sum(2.0 ** (-self.coord_dims * level) for level in range(self.levels))

    def macs_per_sample(self) -> int:
        """Per pixel: the ARM for every latent, the upsampling and the synthesis."""
        arm = self.latents_per_pixel() * (dense_layer_macs(self.arm_sizes()) + 2 * self.context_size())
        upsample = UPSAMPLE_TAPS**self.coord_dims * (self.levels - 1)
        synthesis = dense_layer_macs(self.synth_sizes()) + self.convs * 9 * self.out_dim * self.out_dim
        return math.ceil(arm + upsample + synthesis)

    def build(self, key: jax.Array) -> "LatentGridNet":
        return LatentGridNet(self, key=key)


@register
@dataclasses.dataclass(frozen=True)
class LatentVideoConfig(LatentGridConfig):
    """The latent-grid codec for video: 3-D grids over (frames, rows, columns), halved along
    time too at each level, so a still region is coded once for many frames. The ARM reads the
    image codec's causal neighbours in the latent's own frame plus the ``previous_radius``
    square around it in the grid's previous frame."""

    name = "latentvideo"
    wire_code = 5
    coord_dims: ClassVar[int] = 3  # (frames, rows, columns)
    codes: ClassVar[str] = "videos only (3-D coordinates); images take latentgrid"
    in_dim: int = 3
    previous_radius: int = 1

    def field_checks(self) -> list[tuple[bool, str]]:
        return super().field_checks() + [(0 <= self.previous_radius <= 2, "previous_radius must be 0..2")]

    def offsets(self) -> tuple[tuple[int, ...], ...]:
        r = self.previous_radius
        previous = [(-1, dr, dc) for dr in range(-r, r + 1) for dc in range(-r, r + 1)]
        return tuple(previous + [(0, dr, dc) for dr, dc in context_offsets(self.context_rows, self.context_cols)])

    def signal_shape(self, meta) -> tuple[int, ...]:
        return meta["frames"], meta["height"], meta["width"]


def context_offsets(rows: int, cols: int) -> tuple[tuple[int, int], ...]:
    """Causal neighbours (row, column offsets): ``rows`` rows above, columns -cols..cols, then
    the ``cols`` latents to the left on the current row. Decoding order is raster within a grid,
    so all of them are known when a latent is decoded."""
    above = [(-r, c) for r in range(rows, 0, -1) for c in range(-cols, cols + 1)]
    return tuple(above + [(0, c) for c in range(-cols, 0)])


def context_padding(offsets) -> tuple[tuple[int, int], ...]:
    """Per axis, the zeros a grid needs before and after it for every neighbour to be inside."""
    return tuple((max([-d[axis] for d in offsets] + [0]), max([d[axis] for d in offsets] + [0]))
                 for axis in range(len(offsets[0])))


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
        self.offsets = config.offsets()
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

    def synthesize(self, latents: list[jax.Array], shape: tuple[int, ...]) -> jax.Array:
        """Latent grids -> (*shape, out_dim) pixels (centred: 0 is mid-grey); ``shape`` is
        (height, width), or (frames, height, width) for a video."""
        return self.synthesize_planes(upsample(latents, shape))

    def synthesize_planes(self, h: jax.Array) -> jax.Array:
        """Upsampled latents (*shape, levels) -> (*shape, out_dim) pixels."""
        for w, b in zip(self.synth_weights[:-1], self.synth_biases[:-1]):
            h = jax.nn.relu(h @ w + b)
        h = h @ self.synth_weights[-1] + self.synth_biases[-1]
        for i, (w, b) in enumerate(zip(self.conv_weights, self.conv_biases)):
            residual = _conv3x3(h, w) + b
            h = h + (jax.nn.relu(residual) if i < len(self.conv_weights) - 1 else residual)
        return h


def upsample(latents: list[jax.Array], shape: tuple[int, ...]) -> jax.Array:
    """Latent grids -> (*shape, levels): each resized to ``shape`` (cubic along every axis)."""
    return jnp.stack([jax.image.resize(y, shape, "cubic") if y.shape != tuple(shape) else y for y in latents], axis=-1)


def _conv3x3(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """'Same' 3x3 convolution of (..., H, W, C) with (3, 3, C, C) within each (H, W) plane,
    edges replicated."""
    frames = x.reshape((-1,) + x.shape[-3:])
    padded = jnp.pad(frames, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    out = jax.lax.conv_general_dilated(padded, kernel, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return out.reshape(x.shape)


def grid_contexts(grid: jax.Array, offsets: tuple[tuple[int, ...], ...]) -> jax.Array:
    """A grid -> (*grid.shape, K) values at the causal offsets (zero outside the grid)."""
    pad = context_padding(offsets)
    padded = jnp.pad(grid, pad)

    def shifted(offset):
        return padded[tuple(slice(before + d, before + d + n) for (before, _), d, n in zip(pad, offset, grid.shape))]

    return jnp.stack([shifted(offset) for offset in offsets], axis=-1)
