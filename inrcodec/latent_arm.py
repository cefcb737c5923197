"""The latent entropy model in exact integer arithmetic: what the range coder's probabilities are.

The ARM's weights are quantized to power-of-two steps and evaluated in fixed point only
(:mod:`inrcodec.fixed_point`). It outputs, per latent, a mean in quarter steps and a scale
index. The weight of latent value ``k`` is the Laplace mass on the bin ``k ± 1/2`` taken from a
table of integer tail weights at quarter-step distances (``pmf_rows``), whose decays are
computed with ``decimal`` (software arithmetic, identical everywhere); the range coder
normalises the weights over the file's latent alphabet.

Latents are coded grid by grid along wavefronts (``wavefronts``; anti-diagonals on an image's
grids): every latent of a wavefront has all its context decoded, so the decoder evaluates a
wavefront at once.
"""

from __future__ import annotations

import decimal
import functools
from collections.abc import Iterator

import numpy as np

from inrcodec import fixed_point
from inrcodec.errors import FormatError
from inrcodec.inr.latentgrid import LOG_SCALE_MAX, LOG_SCALE_MIN

MEAN_BITS = 2  # means in quarter steps
SCALE_STEPS = 8  # scale indices per unit of natural log
SCALES = int(SCALE_STEPS * (LOG_SCALE_MAX - LOG_SCALE_MIN)) + 1
WEIGHT_BITS = 20
DECAY_BITS = 16
MAX_FRAC_BITS = 16
MAX_WEIGHT = 1 << 16
MAX_LATENT = 1 << 10  # |latent| bound of the format, keeps the fixed-point sums exact


def _decays() -> np.ndarray:
    """Per scale index s: the weight ratio per quarter step, exp(-1/4 / b_s) in units of 2^-16."""
    context = decimal.Context(prec=40)
    out = []
    for s in range(SCALES):
        log_scale = decimal.Decimal(LOG_SCALE_MIN) + decimal.Decimal(s) / SCALE_STEPS
        ratio = context.exp(-context.exp(-log_scale) / 4)
        out.append(int((ratio * (1 << DECAY_BITS)).to_integral_value(decimal.ROUND_HALF_EVEN)))
    return np.clip(np.array(out, np.int64), 1, (1 << DECAY_BITS) - 1)


DECAYS = _decays()


@functools.lru_cache(maxsize=8)
def weight_table(distances: int) -> np.ndarray:
    """(SCALES, distances) int64 weights for quarter-step distances 0..distances-1."""
    out = np.ones((SCALES, distances), np.int64)
    w = np.full(SCALES, 1 << WEIGHT_BITS, np.int64)
    for t in range(distances):
        out[:, t] = w
        if np.all(w == 1):
            break
        w = np.maximum(1, (w * DECAYS + (1 << (DECAY_BITS - 1))) >> DECAY_BITS)
    return out


def check_tensors(ints: list[np.ndarray], frac_bits: list[int]) -> None:
    """Raise FormatError unless the ARM's integers fit the fixed-point bounds."""
    if any(np.abs(t).max(initial=0) >= MAX_WEIGHT for t in ints):
        raise FormatError("latent entropy model weights out of range")
    if any(not 0 <= f <= MAX_FRAC_BITS for f in frac_bits):
        raise FormatError("latent entropy model steps out of range")


def integer_arm(ints: list[np.ndarray], frac_bits: list[int], context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) integer neighbours -> quarter-step means (N,) and scale indices (N,), exact.

    ``ints`` are the ARM's leaves in the network's order (the MLP's weights, its biases, then
    the linear path from the neighbours), at steps 2^-frac_bits.
    """
    layers = (len(ints) - 1) // 2
    z, unit = fixed_point.relu_mlp(ints[:layers], ints[layers : 2 * layers], frac_bits[:layers],
                                   frac_bits[layers : 2 * layers], context)
    z = z + (context.astype(np.float64) @ ints[-1].astype(np.float64)) * 2.0 ** (unit - frac_bits[-1])
    mean = np.floor(z[:, 0] * 2.0**-unit * (1 << MEAN_BITS) + 0.5)
    scale = np.floor(z[:, 1] * 2.0**-unit * SCALE_STEPS + 0.5) - SCALE_STEPS * LOG_SCALE_MIN
    mean = np.clip(mean, -4 * MAX_LATENT, 4 * MAX_LATENT).astype(np.int64)
    return mean, np.clip(scale, 0, SCALES - 1).astype(np.int64)


def pmf_rows(mean: np.ndarray, scale: np.ndarray, low: int, high: int) -> np.ndarray:
    """(N, high - low + 1) integer weights of the latent values low..high (as float64): the
    Laplace's mass on each unit bin, from tail weights at quarter-step distances.

    With the bin's edges at quarter-step offsets ``a < b`` from the mean and ``W`` the tail
    weight (2^20 at 0): ``W[a] - W[b]`` right of the mean, ``W[-b] - W[-a]`` left of it, and
    ``2^21 - W[-a] - W[b]`` for the bin that holds it; plus one, so no value is impossible.
    """
    alphabet = high - low + 1
    centre = np.clip(mean >> MEAN_BITS, low, high)
    frac = mean - (centre << MEAN_BITS)  # 0..3 unless the mean was clipped into the alphabet
    values = np.arange(low, high + 1)
    lower = 4 * (values[None, :] - centre[:, None]) - frac[:, None] - 2
    return _bin_weights(lower, scale[:, None], weight_table(4 * alphabet + 8)).astype(np.float64)


def _bin_weights(lower: np.ndarray, scale: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Integer weight (plus one) of the unit bins whose lower edges are ``lower`` quarter steps
    from the mean, at scale indices ``scale``; distances beyond the table read its last column."""
    last = table.shape[1] - 1
    upper = lower + 4

    def tail(distance):
        return table[scale, np.minimum(distance, last)]

    right = tail(np.maximum(lower, 0)) - tail(np.maximum(upper, 0))
    left = tail(np.maximum(-upper, 0)) - tail(np.maximum(-lower, 0))
    middle = (2 << WEIGHT_BITS) - tail(np.maximum(-lower, 0)) - tail(np.maximum(upper, 0))
    return np.where(lower >= 0, right, np.where(upper <= 0, left, middle)) + 1


@functools.lru_cache(maxsize=64)
def max_probability(low: int, high: int) -> float:
    """The largest probability a :func:`pmf_rows` row of the alphabet ``low..high`` can give a
    value, whatever the ARM predicts (1 for a one-value alphabet, where nothing is coded).

    A row's weights are bins at quarter-step offsets ``d, d + 4, ...`` from the mean, so its
    largest weight ``F(d)`` sits beside ``F(d - 4)`` or ``F(d + 4)`` and ``alphabet - 2`` more
    weights of at least one: that bounds the largest probability below 1 for every mean and
    scale at once, without enumerating rows (an alphabet may hold 2049 values). It bounds the
    work of a latents chunk: every latent costs at least -log2 of it.
    """
    alphabet = high - low + 1
    if alphabet == 1:
        return 1.0
    table = weight_table(4 * alphabet + 8)
    reach = table.shape[1] + 8  # beyond this offset every bin weighs exactly one
    lower = np.arange(-reach, reach + 1)[None, :] - 2
    weight = _bin_weights(lower, np.arange(SCALES)[:, None], table).astype(np.float64)
    ones = np.ones((SCALES, 4))
    padded = np.concatenate([ones, weight, ones], axis=1)
    neighbour = np.minimum(padded[:, :-8], padded[:, 8:])
    return float(np.max(weight / (weight + neighbour + (alphabet - 2))))


def padded_grid(shape: tuple[int, ...], pad) -> np.ndarray:
    """Zeros for a grid of ``shape`` padded by ``pad``, to be filled in coding order."""
    return np.zeros([n + before + after for n, (before, after) in zip(shape, pad)], np.int64)


def unpadded(padded: np.ndarray, shape: tuple[int, ...], pad) -> np.ndarray:
    return padded[tuple(slice(before, before + n) for n, (before, _) in zip(shape, pad))].copy()


def contexts(padded: np.ndarray, positions: tuple[np.ndarray, ...], offsets, pad) -> np.ndarray:
    """(N, K) neighbours of the grid positions (one index array per axis) in a padded grid."""
    base = [p + before for p, (before, _) in zip(positions, pad)]
    return np.stack([padded[tuple(b + d for b, d in zip(base, offset))] for offset in offsets], axis=-1)


def wavefronts(shape: tuple[int, ...], offsets) -> Iterator[tuple[np.ndarray, ...]]:
    """The grid's positions in coding order, as groups that can be decoded together.

    A position ``p`` is on wavefront ``a . p``, with weights ``a`` (1 for the last axis, and
    for each earlier axis one more than the largest reach of the later ones) that put every
    causal neighbour on an earlier wavefront. For an image grid with neighbours ``cols``
    columns to each side that is ``row * (cols + 1) + col``. Within a wavefront positions are
    in raster order. Generated one wavefront at a time: nothing the size of the grid is built.
    """
    weights = wavefront_weights(shape, offsets)
    last = sum(w * (n - 1) for w, n in zip(weights, shape))
    for t in range(last + 1):
        positions = _wavefront(shape, weights, t)
        if positions[0].size:
            yield positions


def wavefront_weights(shape: tuple[int, ...], offsets) -> list[int]:
    """Per axis, the weight of a position's index in its wavefront number (see :func:`wavefronts`)."""
    reach = [max(abs(d[axis]) for d in offsets) for axis in range(len(shape))]
    weights = [1] * len(shape)
    for axis in range(len(shape) - 2, -1, -1):
        weights[axis] = 1 + sum(w * r for w, r in zip(weights[axis + 1 :], reach[axis + 1 :]))
    return weights


def _wavefront(shape: tuple[int, ...], weights: list[int], t: int) -> tuple[np.ndarray, ...]:
    """The positions ``p`` of ``shape`` with ``weights . p == t``, in raster order."""
    if len(shape) == 1:  # the last axis has weight 1
        index = np.arange(t, t + 1) if 0 <= t < shape[0] else np.arange(0)
        return (index,)
    rest = sum(w * (n - 1) for w, n in zip(weights[1:], shape[1:]))
    first = range(max(0, -(-(t - rest) // weights[0])), min(shape[0] - 1, t // weights[0]) + 1)
    if len(shape) == 2:  # the column follows from the row: one vector per wavefront
        rows = np.arange(first.start, first.stop)
        return rows, t - weights[0] * rows
    parts = [(i, _wavefront(shape[1:], weights[1:], t - weights[0] * i)) for i in first]
    parts = [(i, p) for i, p in parts if p[0].size]
    if not parts:
        return tuple(np.arange(0) for _ in shape)
    leading = np.concatenate([np.full(p[0].size, i) for i, p in parts])
    return (leading,) + tuple(np.concatenate([p[axis] for _, p in parts]) for axis in range(len(shape) - 1))
