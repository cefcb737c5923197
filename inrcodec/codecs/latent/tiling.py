"""The decoder's synthesis, tile by tile: bounded memory whatever the image size.

A render of the whole signal at once holds every upsampled latent plane and every hidden
layer of the synthesis for every pixel (about 100 floats a pixel: 6 GiB for a 4096 x 4096
image). Here the output is cut into tiles along the grid axes; each tile is computed from the
latents it needs alone and gives the same pixels as the whole render, up to float rounding:

* the cubic upsampling of a grid is separable, and every output pixel reads the input samples
  within the kernel's reach (two samples, times the downscaling factor when the render is
  smaller than the grid). A tile's weights are those of :func:`jax.image.resize` (Keys cubic,
  antialiased, normalised over the samples inside the grid), computed in float64 here for the
  tile's rows of the full resize;
* the synthesis' 1x1 layers are per pixel, and each of its ``convs`` 3x3 convolutions reads one
  pixel around: a tile computed with a halo of ``convs`` pixels on each side (the image's own
  edges are replicated as in the whole render) is exact in its core.

Every tile has the same shape (tiles at the end are shifted inward), so the tile program is
compiled once.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np

TILE = 512  # core pixels of a tile along rows and columns
TILE_FRAMES = 8  # ... and along a video's frames (not convolved: no halo)
CUBIC_RADIUS = 2.0


def render(net, latents: list[np.ndarray], step: float, shape: tuple[int, ...], convs: int) -> np.ndarray:
    """(*shape, out_dim) float32 pixels of integer latent grids (times ``step``) through the
    synthesis of ``net``, rendered tile by tile."""
    halos = [0] * (len(shape) - 2) + [convs, convs]
    cores = [TILE_FRAMES] * (len(shape) - 2) + [TILE, TILE]
    axes = [_Axis.plan(n, core, halo) for n, core, halo in zip(shape, cores, halos)]
    levels = [[_Resize.plan(m, axis) for m, axis in zip(grid.shape, axes)] for grid in latents]
    out = None
    for starts in itertools.product(*(range(0, axis.size, axis.core) for axis in axes)):
        windows = [axis.window(a) for axis, a in zip(axes, starts)]
        inputs = [_level_inputs(grid, resizes, windows, step) for grid, resizes in zip(latents, levels)]
        tile = np.asarray(_synthesize_tile(net, inputs))
        if out is None:
            out = np.empty(tuple(shape) + tile.shape[-1:], np.float32)
        target = tuple(slice(a, min(a + axis.core, axis.size)) for axis, a in zip(axes, starts))
        source = tuple(slice(a - w, min(a + axis.core, axis.size) - w) for axis, a, w in zip(axes, starts, windows))
        out[target] = tile[source]
    return out


@dataclasses.dataclass(frozen=True)
class _Axis:
    """How one output axis of ``size`` pixels is cut: cores of ``core`` pixels, each computed
    in a window of ``length`` pixels that holds the core and ``halo`` pixels on each side
    (fewer at the axis' ends, where the window stops at the edge)."""

    size: int
    core: int
    length: int
    halo: int

    @classmethod
    def plan(cls, size: int, core: int, halo: int) -> "_Axis":
        core = min(size, core)
        return cls(size, core, min(size, core + 2 * halo), halo)

    def window(self, core_start: int) -> int:
        """First pixel of the window of the core starting at ``core_start``."""
        return min(max(core_start - self.halo, 0), self.size - self.length)


@dataclasses.dataclass(frozen=True)
class _Resize:
    """One grid axis of ``grid`` samples resized to an output axis: the input span a window
    reads (``span`` samples; the same for every window, so tiles share one shape)."""

    grid: int
    size: int
    length: int
    span: int

    @classmethod
    def plan(cls, grid: int, axis: _Axis) -> "_Resize":
        if grid == axis.size:  # jax.image.resize leaves such an axis as it is
            return cls(grid, axis.size, axis.length, axis.length)
        inv_scale = grid / axis.size
        reach = CUBIC_RADIUS * max(inv_scale, 1.0)
        return cls(grid, axis.size, axis.length, min(grid, math.ceil((axis.length - 1) * inv_scale + 2 * reach) + 2))

    def first(self, window: int) -> int:
        """First input sample read by the output window starting at ``window``."""
        if self.grid == self.size:
            return window
        reach = CUBIC_RADIUS * max(self.grid / self.size, 1.0)
        return min(max(math.floor(_sample(window, self.grid, self.size) - reach), 0), self.grid - self.span)

    def weights(self, window: int, first: int) -> np.ndarray | None:
        """(window length, span) float32 weights of the resize, None for an unresized axis."""
        if self.grid == self.size:
            return None
        inv_scale = self.grid / self.size
        sample = _sample(np.arange(window, window + self.length), self.grid, self.size)
        x = np.abs(sample[:, None] - np.arange(first, first + self.span)[None, :]) / max(inv_scale, 1.0)
        w = _keys_cubic(x)
        total = w.sum(axis=1, keepdims=True)  # the span holds every sample within reach
        w = np.where(np.abs(total) > 1000 * np.finfo(np.float32).eps, w / np.where(total != 0, total, 1), 0)
        return w.astype(np.float32)


def _sample(index, grid: int, size: int):
    """Input coordinate of output pixel ``index`` (half-pixel centres, as jax.image.resize)."""
    return (np.asarray(index, np.float64) + 0.5) * (grid / size) - 0.5


def _keys_cubic(x: np.ndarray) -> np.ndarray:
    """The Keys cubic kernel (a = -0.5) that jax.image.resize's "cubic" uses."""
    near = ((1.5 * x - 2.5) * x) * x + 1.0
    far = ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
    return np.where(x >= 2.0, 0.0, np.where(x >= 1.0, far, near))


def _level_inputs(grid: np.ndarray, resizes: list[_Resize], windows: list[int], step: float):
    """The part of one latent grid a tile reads (as float32 latents) and its resize weights."""
    firsts = [r.first(w) for r, w in zip(resizes, windows)]
    part = grid[tuple(slice(f, f + r.span) for f, r in zip(firsts, resizes))]
    return jnp.asarray(part.astype(np.float32) * np.float32(step)), [r.weights(w, f) for r, w, f in zip(resizes, windows, firsts)]


@eqx.filter_jit
def _synthesize_tile(net, inputs):
    """Upsample each grid's part to the tile window (one matrix per resized axis), stack the
    levels and run the synthesis."""
    planes = []
    for part, weights in inputs:
        for axis, w in enumerate(weights):
            if w is not None:
                part = jnp.moveaxis(jnp.tensordot(w, part, axes=[[1], [axis]]), 0, axis)
        planes.append(part)
    return net.synthesize_planes(jnp.stack(planes, axis=-1))
