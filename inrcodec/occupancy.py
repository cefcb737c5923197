"""The occupancy field: a small MLP that gives each octree cell's probability of being occupied,
from its level, its position and its parent's decoded neighbourhood, and the exact integer
arithmetic that turns it into the probabilities the range coder uses.

The network is fitted to one point cloud (:mod:`inrcodec.fit_occupancy`), its weights are
quantized to power-of-two steps, and from then on it is evaluated in fixed point only (:mod:`inrcodec.fixed_point`); logits index a table built with ``decimal``
(software arithmetic, identical everywhere).
"""

from __future__ import annotations

import decimal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from inrcodec import fixed_point, octree
from inrcodec.errors import FormatError

LOGIT_BITS = 4  # logits are rounded down to 1/16 ...
LOGIT_LIMIT = 12 << LOGIT_BITS  # ... and clipped to +-12
PROB_BITS = 16
MAX_FRAC_BITS = 16  # weight and bias steps are 2^-f with 0 <= f <= 16
POSITION_BITS = 4  # the parent's position, to 1/16 of the bounding cube per axis
_MIRROR = octree.mirrored_neighbour_index()
_KNOWN_CHILDREN = octree.known_child_neighbour_offsets()
# Parent's neighbours, child's corner, level, parent's position, phase, known child-level neighbours.
FEATURES = len(octree.NEIGHBOUR_OFFSETS) + 3 + 1 + 3 + 1 + _KNOWN_CHILDREN.shape[1]


def _probability_table() -> np.ndarray:
    """P(occupied) in units of 2^-16 for each logit k/16, k = -LOGIT_LIMIT..LOGIT_LIMIT."""
    context = decimal.Context(prec=40)
    scale = decimal.Decimal(1 << PROB_BITS)
    table = []
    for k in range(-LOGIT_LIMIT, LOGIT_LIMIT + 1):
        sigmoid = decimal.Decimal(1) / (1 + context.exp(decimal.Decimal(-k) / (1 << LOGIT_BITS)))
        table.append(int((sigmoid * scale).to_integral_value(decimal.ROUND_HALF_EVEN)))
    return np.clip(np.array(table, np.int64), 1, (1 << PROB_BITS) - 1)


PROBABILITY_TABLE = _probability_table()


def cell_features(parents: np.ndarray, occupied_cells: np.ndarray, level: int,
                  known_children: np.ndarray | None = None) -> np.ndarray:
    """(P, 8, FEATURES) uint8 inputs for the children of ``parents``: cells of ``level`` whose
    occupied neighbours are ``occupied_cells`` (sorted: the whole decoded level).

    ``known_children`` (sorted cells of level + 1) marks phase-1 parents: their children see
    which of their 13 known neighbours (``octree.known_child_neighbour_offsets``) are occupied.
    """
    neighbours = octree.neighbour_occupancy(parents, occupied_cells, level)  # (P, 26)
    mirrored = neighbours[:, _MIRROR]  # (P, 8, 26)
    count = len(parents)
    octant = np.broadcast_to(octree.CHILD_OFFSETS[None], (count, 8, 3))
    level_column = np.full((count, 8, 1), level + 1)
    position = (parents << POSITION_BITS) >> level if level >= POSITION_BITS else parents << (POSITION_BITS - level)
    position = np.broadcast_to(position[:, None, :], (count, 8, 3))
    phase = np.full((count, 8, 1), 0 if known_children is None else 1)
    known = np.zeros((count, 8, _KNOWN_CHILDREN.shape[1]), bool)
    if known_children is not None and count:
        children = octree.children(parents).reshape(count, 8, 1, 3) + _KNOWN_CHILDREN[None]
        known = octree.occupied(children.reshape(-1, 3), known_children, level + 1).reshape(known.shape)
    return np.concatenate([mirrored, octant, level_column, position, phase, known], axis=2).astype(np.uint8)


class ContextMLP(eqx.Module):
    """Float twin of the fixed-point network, used only while fitting."""

    weights: list
    biases: list

    def __init__(self, width: int, depth: int, key: jax.Array):
        sizes = [FEATURES] + [width] * depth + [1]
        keys = jax.random.split(key, len(sizes) - 1)
        self.weights = [jax.random.normal(k, (a, b)) * np.sqrt(2.0 / a) for k, a, b in zip(keys, sizes[:-1], sizes[1:])]
        self.biases = [jnp.zeros((b,)) for b in sizes[1:]]

    def __call__(self, x: jax.Array) -> jax.Array:
        h = x
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            h = jax.nn.relu(h @ w + b)
        return (h @ self.weights[-1] + self.biases[-1])[..., 0]


def check_tensors(ints: list[np.ndarray]) -> None:
    """Raise FormatError unless the integer weights fit the fixed-point bounds."""
    if any(np.abs(t).max(initial=0) >= 1 << 16 for t in ints):
        raise FormatError("occupancy network weights out of range")


def integer_logits(ints: list[np.ndarray], frac_bits: list[int], features: np.ndarray) -> np.ndarray:
    """Exact logits in units of 2^-LOGIT_BITS, clipped; identical on every machine."""
    layers = len(ints) // 2
    z, unit = fixed_point.relu_mlp(ints[:layers], ints[layers:], frac_bits[:layers], frac_bits[layers:], features)
    logits = np.floor(z[:, 0] * 2.0 ** (LOGIT_BITS - unit))
    return np.clip(logits, -LOGIT_LIMIT, LOGIT_LIMIT).astype(np.int64)


def child_probabilities(ints, frac_bits, features: np.ndarray) -> np.ndarray:
    """(P, 8) integer P(occupied) in units of 2^-16 for (P, 8, FEATURES) inputs."""
    logits = integer_logits(ints, frac_bits, features.reshape(-1, FEATURES))
    return PROBABILITY_TABLE[logits + LOGIT_LIMIT].reshape(features.shape[:2])


MASK_BITS = (np.arange(1, 256)[:, None] >> np.arange(8)[None, :]) & 1  # (255, 8): bit c of mask m


def mask_probabilities(child: np.ndarray) -> np.ndarray:
    """(P, 255) probabilities of the non-empty child masks 1..255 (bit c = child c occupied).

    The product of the children's Bernoulli probabilities, renormalised by the coder over the
    non-empty masks. Elementwise float64 products in a fixed order: the same on every machine.
    """
    p = child.astype(np.float64) / (1 << PROB_BITS)
    out = np.ones((len(child), 255))
    for c in range(8):
        out *= np.where(MASK_BITS[None, :, c] == 1, p[:, c : c + 1], 1.0 - p[:, c : c + 1])
    return out


def masks(labels: np.ndarray) -> np.ndarray:
    """(P, 8) bools -> child mask symbols 0..254 (mask value minus one)."""
    return (labels.astype(np.int64) << np.arange(8)).sum(axis=1) - 1


def ideal_bits(ints, frac_bits, features: np.ndarray, labels: np.ndarray, chunk: int = 1 << 15) -> float:
    """The code length of the child masks under the fixed-point network (for choosing steps)."""
    total = 0.0
    for start in range(0, len(labels), chunk):
        probs = mask_probabilities(child_probabilities(ints, frac_bits, features[start : start + chunk]))
        symbols = masks(labels[start : start + chunk])
        chosen = probs[np.arange(len(symbols)), symbols]
        total += float(np.sum(np.log2(probs.sum(axis=1)) - np.log2(chosen)))
    return total
