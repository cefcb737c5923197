"""The latents chunk: integer latent grids range-coded wavefront by wavefront with the
probabilities of the integer ARM (:mod:`inrcodec.latent_arm`), and their parsing."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from inrcodec import container, entropy, latent_arm, weights
from inrcodec.bitstream import Reader, Writer
from inrcodec.codecs.base import MAX_RENDER_MACS, MAX_RENDER_SAMPLES, BitBudget, least_bits
from inrcodec.errors import FormatError
from inrcodec.inr.latentgrid import LatentGridConfig, context_padding

LATENTS_HEADER_BYTES = 6  # the latents chunk's tag, length and alphabet
ROWS_PER_CALL = 1 << 12  # probability rows handed to the range coder at once (bounded memory)
MAX_LATENTS = 2 * MAX_RENDER_SAMPLES  # a signal at the render limit has fewer latents than this


def arm_tensor_count(arch: LatentGridConfig) -> int:
    """The ARM's weights, biases and linear path come first among the network's leaves."""
    return 2 * (arch.arm_depth + 1) + 1


def ideal_latent_bits(arm_ints, frac_bits, latents: list[np.ndarray], arch: LatentGridConfig, stride: int = 1) -> float:
    """Code length of the latents under the integer ARM (for choosing steps; not the rate);
    with ``stride`` > 1, of every stride-th latent in raster order, times ``stride``."""
    low, high = _alphabet(latents)
    if low == high:
        return 0.0
    total = 0.0
    for grid in latents:
        index = np.arange(0, grid.size, stride)
        means, scales = _grid_parameters(arm_ints, frac_bits, grid, arch, index)
        values = grid.reshape(-1)[index]
        for i in range(0, values.size, ROWS_PER_CALL):
            rows = latent_arm.pmf_rows(means[i : i + ROWS_PER_CALL], scales[i : i + ROWS_PER_CALL], low, high)
            chosen = rows[np.arange(len(rows)), values[i : i + ROWS_PER_CALL] - low]
            total += float(np.sum(np.log2(rows.sum(axis=1)) - np.log2(chosen)))
    return stride * total


def _grid_parameters(arm_ints, frac_bits, grid: np.ndarray, arch: LatentGridConfig, index: np.ndarray | None = None):
    """Quarter-step means and scale indices of the latents of a grid at raster ``index``
    (default: all of them, in raster order)."""
    offsets = arch.offsets()
    pad = context_padding(offsets)
    index = np.arange(grid.size) if index is None else index
    context = latent_arm.contexts(np.pad(grid, pad), np.unravel_index(index, grid.shape), offsets, pad)
    return latent_arm.integer_arm(arm_ints, frac_bits, context)


def _alphabet(latents: list[np.ndarray]) -> tuple[int, int]:
    return min(int(q.min()) for q in latents), max(int(q.max()) for q in latents)


def encode_latents(arm_ints, frac_bits, latents: list[np.ndarray], arch: LatentGridConfig) -> bytes:
    """The latents chunk: alphabet, then every grid range-coded wavefront by wavefront."""
    low, high = _alphabet(latents)
    w = Writer()
    w.svarint(low)
    w.uvarint(high - low)
    if low == high:
        return w.getvalue()
    coder = entropy.RowEncoder()
    offsets = arch.offsets()
    for grid in latents:
        means, scales = _grid_parameters(arm_ints, frac_bits, grid, arch)
        order = np.concatenate([np.ravel_multi_index(p, grid.shape) for p in latent_arm.wavefronts(grid.shape, offsets)])
        values = grid.reshape(-1)[order]
        for i in range(0, order.size, ROWS_PER_CALL):
            part = order[i : i + ROWS_PER_CALL]
            coder.encode(values[i : i + ROWS_PER_CALL] - low, latent_arm.pmf_rows(means[part], scales[part], low, high))
    return w.getvalue() + coder.finish()


def decode_latents(data: bytes, arm_ints, frac_bits, arch: LatentGridConfig, shape: tuple[int, ...],
                   trace: list | None = None) -> list[np.ndarray]:
    """Inverse of :func:`encode_latents`. ``trace`` (a list) collects each wavefront's
    (means, scales), to compare with what the encoder used.

    The work is bounded by the chunk's bytes before the grids are allocated, and again as
    latents are decoded (:func:`_budget`): a header that declares more latents than the chunk
    can hold fails at once, and a desynchronised decoder as soon as it has decoded more
    information than the chunk holds.
    """
    r = Reader(data, what="latents chunk")
    low, high = _read_alphabet(r)
    shapes = arch.grid_shapes(shape)
    count = check_latent_count(shapes)
    if low == high:
        r.expect_end()
        # A read-only view of one value: nothing proportional to the grids is allocated.
        return [np.broadcast_to(np.int64(low), s) for s in shapes]
    payload = r.raw(r.remaining())
    budget = _budget(len(payload), count, low, high)
    decoder = entropy.RowDecoder(payload)
    offsets = arch.offsets()
    pad = context_padding(offsets)
    out = []
    for grid_shape in shapes:
        padded = latent_arm.padded_grid(grid_shape, pad)
        for positions in latent_arm.wavefronts(grid_shape, offsets):
            context = latent_arm.contexts(padded, positions, offsets, pad)
            means, scales = latent_arm.integer_arm(arm_ints, frac_bits, context)
            if trace is not None:
                trace.append((means, scales))
            for i in range(0, len(means), ROWS_PER_CALL):  # bounded memory on tall images
                part = slice(i, i + ROWS_PER_CALL)
                rows = latent_arm.pmf_rows(means[part], scales[part], low, high)
                symbols = decoder.decode(rows)
                budget.spend(rows, symbols)
                padded[shifted(tuple(p[part] for p in positions), pad)] = symbols + low
        out.append(latent_arm.unpadded(padded, grid_shape, pad))
    decoder.finish()
    return out


def check_latent_count(shapes: list[tuple[int, ...]]) -> int:
    """The number of latents of the grids; FormatError beyond what the largest renderable
    signal can hold (each of its samples carries fewer than two latents)."""
    count = sum(math.prod(s) for s in shapes)
    if count > MAX_LATENTS:
        raise FormatError(f"{count} latents exceed the decoder's limit of {MAX_LATENTS}")
    return count


def _budget(nbytes: int, count: int, low: int, high: int) -> BitBudget:
    """The bit budget of ``count`` latents in ``nbytes`` of range-coded data (FormatError if
    even the most probable latents cannot fit)."""
    return BitBudget("latents chunk", "latents", nbytes, count, float(least_bits(latent_arm.max_probability(low, high))))


def latent_range(data: bytes, shapes: list[tuple[int, ...]]) -> tuple[int, int]:
    """The smallest and largest latent of a latents chunk, read from its header alone, once
    checked that the chunk can hold the latents of grids of ``shapes`` (nothing is decoded)."""
    r = Reader(data, what="latents chunk")
    low, high = _read_alphabet(r)
    count = check_latent_count(shapes)
    if low == high:
        r.expect_end()
    else:
        _budget(r.remaining(), count, low, high)
    return low, high


def _read_alphabet(r: Reader) -> tuple[int, int]:
    low = r.svarint(limit=latent_arm.MAX_LATENT)
    high = low + r.uvarint(limit=2 * latent_arm.MAX_LATENT)
    if high > latent_arm.MAX_LATENT:
        raise FormatError(f"latent alphabet {low}..{high} out of range")
    return low, high


def shifted(positions: tuple[np.ndarray, ...], pad) -> tuple[np.ndarray, ...]:
    """Grid positions as indices into the padded grid."""
    return tuple(p + before for p, (before, _) in zip(positions, pad))


def arm_frac_bits(arch: LatentGridConfig, codes: list[int]) -> list[int]:
    """The ARM's power-of-two steps from the file's step codes (FormatError if not powers of two)."""
    codes = codes[: arm_tensor_count(arch)]
    if any(c % 8 or c > 0 for c in codes):
        raise FormatError("latent entropy model steps must be powers of two below 1")
    return [-c // 8 for c in codes]


def decode_integer_parts(parsed: container.Container, meta: dict[str, Any], arch: LatentGridConfig, trace=None):
    """The network's integer tensors and step codes, and the integer latent grids, of a file."""
    if parsed.latents is None:
        raise FormatError("latent-grid file without a latents chunk")
    if parsed.geometry is not None:
        raise FormatError("unexpected geometry chunk in a latent-grid file")
    shape = arch.signal_shape(meta)
    pixels = math.prod(shape)
    if pixels * arch.macs_per_sample() > MAX_RENDER_MACS:
        raise FormatError(f"decoding {pixels} pixels at {arch.macs_per_sample()} MACs each exceeds the "
                          f"decoder's limit of {MAX_RENDER_MACS} MACs")
    ints, codes = weights.decode_ints(arch, parsed.tensors, parsed.payload)
    fracs = arm_frac_bits(arch, codes)
    n_arm = arm_tensor_count(arch)
    latent_arm.check_tensors(ints[:n_arm], fracs)
    return ints, codes, decode_latents(parsed.latents, ints[:n_arm], fracs, arch, shape, trace)


