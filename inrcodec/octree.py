"""Voxel octrees in integer arithmetic: occupancy per level, children, neighbour contexts.

Cells of level ``l`` have integer coordinates in ``[0, 2^l)^3`` and are kept sorted by their
packed key, so the encoder and the decoder enumerate them in the same order. Numpy only.
"""

from __future__ import annotations

import itertools

import numpy as np

MAX_DEPTH = 16
# Child c of a cell sits at 2 * cell + CHILD_OFFSETS[c]; c's bits are (x, y, z).
CHILD_OFFSETS = np.array(list(itertools.product((0, 1), repeat=3)), dtype=np.int64)
# The 26 neighbours of a cell, in a fixed order.
NEIGHBOUR_OFFSETS = np.array([o for o in itertools.product((-1, 0, 1), repeat=3) if any(o)], dtype=np.int64)


def keys(cells: np.ndarray, level: int) -> np.ndarray:
    """One int64 per cell, increasing in (x, y, z) lexicographic order."""
    side = np.int64(1) << level
    cells = np.asarray(cells, dtype=np.int64)
    return (cells[:, 0] * side + cells[:, 1]) * side + cells[:, 2]


def unique_cells(cells: np.ndarray, level: int) -> np.ndarray:
    """The distinct cells, sorted by key."""
    if len(cells) == 0:
        return np.zeros((0, 3), np.int64)
    _, first = np.unique(keys(cells, level), return_index=True)
    return np.asarray(cells, np.int64)[first]


def levels(voxels: np.ndarray, depth: int) -> list[np.ndarray]:
    """Occupied cells of every level 0..depth, each sorted; the last is the voxels themselves."""
    out = [unique_cells(voxels, depth)]
    for shift in range(1, depth + 1):
        out.append(unique_cells(out[-1] >> 1, depth - shift))
    return out[::-1]


def children(parents: np.ndarray) -> np.ndarray:
    """The 8 child cells of each parent, parent-major: (8 * P, 3)."""
    return (2 * parents[:, None, :] + CHILD_OFFSETS[None, :, :]).reshape(-1, 3)


def occupied(cells: np.ndarray, sorted_cells: np.ndarray, level: int) -> np.ndarray:
    """Whether each of ``cells`` is among ``sorted_cells`` (both at ``level``)."""
    table = keys(sorted_cells, level)
    query = keys(cells, level)
    at = np.clip(np.searchsorted(table, query), 0, max(len(table) - 1, 0))
    inside = np.all((cells >= 0) & (cells < (1 << level)), axis=1)
    return inside & (table[at] == query) if len(table) else np.zeros(len(cells), bool)


def neighbour_occupancy(cells: np.ndarray, occupied_cells: np.ndarray, level: int) -> np.ndarray:
    """(P, 26) bool: which of each cell's 26 neighbours are among ``occupied_cells`` (sorted)."""
    if len(cells) == 0:
        return np.zeros((0, len(NEIGHBOUR_OFFSETS)), bool)
    shifted = cells[:, None, :] + NEIGHBOUR_OFFSETS[None, :, :]
    return occupied(shifted.reshape(-1, 3), occupied_cells, level).reshape(len(cells), -1)


def phases(cells: np.ndarray) -> np.ndarray:
    """0 or 1 per cell: the parity of x + y + z. Each level codes the children of phase-0 cells
    first; a phase-1 cell's face and corner neighbours are all phase 0, so by the time its
    children are coded, those neighbours' children are known."""
    return (cells.sum(axis=1) & 1).astype(np.int64)


def known_child_neighbour_offsets() -> np.ndarray:
    """(8, 13, 3): for child c, the offsets (at the child level) of the 13 neighbours whose
    parent is a face or corner neighbour of c's parent: known when phase-1 children are coded.

    Listed for the child in the (+, +, +) corner and mirrored into the others, in the same order,
    so that each input of the network means the same place relative to the child.
    """
    toward = [o for o in itertools.product((-1, 0, 1), repeat=3) if sum(v == 1 for v in o) in (1, 3)]
    out = np.zeros((8, len(toward), 3), np.int64)
    for c, offset in enumerate(CHILD_OFFSETS):
        out[c] = np.array(toward) * (2 * offset - 1)
    return out


def mirrored_neighbour_index() -> np.ndarray:
    """(8, 26) index: for child c, neighbour j of the parent seen from c's octant.

    Reflecting the neighbourhood so that every child looks toward (+, +, +) lets the eight
    children share one model: "the neighbour on my side" is always the same input.
    """
    position = {tuple(o): j for j, o in enumerate(NEIGHBOUR_OFFSETS.tolist())}
    index = np.zeros((8, len(NEIGHBOUR_OFFSETS)), np.int64)
    for c, offset in enumerate(CHILD_OFFSETS):
        sign = 2 * offset - 1  # -1 where the child is on the low side of an axis
        for j, o in enumerate(NEIGHBOUR_OFFSETS):
            index[c, j] = position[tuple((o * sign).tolist())]
    return index
