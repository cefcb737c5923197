"""The octree codec for point clouds: the voxelized cloud as an octree whose occupancy is coded losslessly with
probabilities from a fitted occupancy field, plus an optional colour field.

Encoder: voxelise the cloud in its bounding cube at ``depth`` bits per axis; fit the occupancy
network (:mod:`inrcodec.occupancy`) to the octree's child masks, level by level; quantize it
to power-of-two steps; range-code every level's masks with the fixed-point probabilities.
With a rate target the deepest octree whose file fits is chosen. Decoder: the same network
predicts each level from the one above, so no cell outside the occupied octree is evaluated.
Decoded points are voxel centres in the input's frame (one per occupied voxel: duplicates of a
voxel merge). Colours come from a hash grid fitted to the input points' colours.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from inrcodec import container, entropy, fit_occupancy, occupancy, octree, quantize, weights
from inrcodec.codecs.base import BitBudget, Codec, Encoded, Progress, check_finite
from inrcodec.compile_cache import releases_compiled_programs
from inrcodec.errors import ConfigError, FormatError
from inrcodec.fit import grid_rate, render, schedule, stack, train, unstack
from inrcodec.inr import ArchConfig, PointFieldsConfig, write_arch
from inrcodec.modalities import POINTCLOUD, Modality, write_signal_chunk
from inrcodec.signal import Signal

# Parents used to fit the occupancy network, at most (a uniform sample beyond that): memory is
# set by this and fit.batch_size, not by the size of the cloud or of the grid.
MAX_TRAIN_PARENTS = 1 << 18
CODE_CHUNK = 1 << 14  # parents per batch when coding or decoding a level
FRAC_BITS_CHOICES = range(3, 10)  # weight steps 2^-3 .. 2^-9, chosen by total coded size
NARROW_SHARE = 0.05  # a network above this share of the estimated size is also tried at half width
COLOUR_OFFSET = 0.5  # colours are fitted as value / 255 - 0.5


class OctreeCodec(Codec):
    archs = ("pointfields",)
    modalities = ("pointcloud",)
    chunks = ("geometry",)

    def encode(self, signal: Signal, config, progress: Progress | None = None) -> Encoded:
        return encode_pointcloud(signal, config, progress)

    def decode(self, parsed: container.Container, modality: Modality, meta: dict[str, Any], arch: ArchConfig,
               scale: float, fps_scale: float) -> Signal:
        if scale != 1.0:
            raise ConfigError("--scale applies to images, audio and video; a point cloud decodes at its coded depth")
        return decode_pointcloud(parsed, meta, arch)

    def adapt(self, arch: ArchConfig, signal: Signal, modality: Modality) -> ArchConfig:
        return arch.replace(out_dim=3 if signal.meta["colour"] else 0)

    def check_arch(self, arch: ArchConfig, modality: Modality, meta: dict[str, Any]) -> None:
        if arch.out_dim != (3 if meta["colour"] else 0):
            raise FormatError(f"a point cloud{' with colour' if meta['colour'] else ''} needs the pointfields "
                              f"architecture with {3 if meta['colour'] else 0} colour channels; the file has "
                              f"{arch.out_dim}")


@releases_compiled_programs
def encode_pointcloud(signal: Signal, config, progress=None) -> Encoded:
    """Encode a point cloud; with ``rate.target`` (bits per input point) the file fits it."""
    start = time.perf_counter()
    arch: PointFieldsConfig = OCTREE_CODEC.adapt(config.arch, signal, POINTCLOUD)
    arch.validate()
    meta = signal.meta
    signal_chunk = write_signal_chunk(POINTCLOUD, meta)
    budget = POINTCLOUD.budget_bits(config.rate.target, meta) if config.rate.target > 0 else None
    key_context, key_colour = jax.random.split(jax.random.PRNGKey(config.seed))
    voxels = voxelize(signal.data, meta, arch.depth)
    levels = octree.levels(voxels, arch.depth)

    colour = _fit_colour(signal, arch, config, key_colour, progress) if arch.out_dim else None
    depth, width = arch.depth, arch.context_width
    fitted = _fit_context(levels, depth, width, config, key_context, progress)
    # On small clouds the network is a large part of the file: halve it while that pays.
    while width > 1 and fitted.weight_bits > NARROW_SHARE * fitted.total_bits:
        narrower = _fit_context(levels, depth, width // 2, config, key_context, progress)
        if narrower.total_bits >= fitted.total_bits:
            break
        width, fitted = width // 2, narrower
    arch = arch.replace(context_width=width)
    if budget is not None:
        depth = _deepest_within(budget, levels, fitted.model, fitted.fracs, colour, signal_chunk, arch)
        if depth < arch.depth:
            fitted = _fit_context(levels, depth, width, config, key_context, progress)
    while True:
        sized = arch.replace(depth=depth)
        blob = _pack(signal_chunk, sized, fitted.model, fitted.fracs, colour, levels)
        if budget is None or len(blob) * 8 <= budget:
            break
        if depth == 1:
            raise ConfigError(f"rate target too low: even a 2x2x2 octree takes {len(blob)} bytes "
                              f"({8 * len(blob) / meta['points']:.3f} bits per point)")
        depth -= 1
        fitted = _fit_context(levels, depth, width, config, key_context, progress)
    return Encoded(blob, sized, float("nan"), time.perf_counter() - start, 1)


def decode_pointcloud(parsed: container.Container, meta: dict[str, Any], arch: PointFieldsConfig) -> Signal:
    """Rebuild the point cloud (and its colours) from a parsed container."""
    OCTREE_CODEC.check_chunks(parsed)
    ints, codes = weights.decode_ints(arch, parsed.tensors, parsed.payload)
    model = weights.from_ints(arch, ints, codes)
    n_context = len(jax.tree_util.tree_leaves(model.context))
    fracs = _frac_bits(codes[:n_context])
    occupancy.check_tensors(ints[:n_context])
    voxels = decode_geometry(parsed.geometry, ints[:n_context], fracs, arch.depth, max_cells=meta["points"])
    points = voxel_centres(voxels, meta, arch.depth)
    attributes = {}
    if model.colour is not None:
        attributes["colors"] = _render_colours(model.colour, points, meta)
    out = dict(meta, input_points=meta["points"], points=len(points), depth=arch.depth)
    return Signal("pointcloud", points, out, attributes)


def voxelize(points: np.ndarray, meta: dict[str, Any], depth: int) -> np.ndarray:
    """Integer voxel coordinates in [0, 2^depth)^3 of the bounding cube (origin, side)."""
    unit = (points - np.asarray(meta["origin"])) / meta["side"]
    return np.clip(np.floor(unit * (1 << depth)), 0, (1 << depth) - 1).astype(np.int64)


def voxel_centres(voxels: np.ndarray, meta: dict[str, Any], depth: int) -> np.ndarray:
    """Voxel centres in the input's coordinate frame, float64."""
    return np.asarray(meta["origin"]) + (voxels + 0.5) * (meta["side"] / (1 << depth))


def coding_order(levels: list[np.ndarray], level: int):
    """The parents of ``level`` in the order they are coded: (parents, known children, masks)
    for phase 0, then phase 1 (``octree.phases``). Phase 1 sees the children of phase 0."""
    cells = levels[level]
    phase = octree.phases(cells)
    for part in (0, 1):
        parents = cells[phase == part]
        masks = octree.occupied(octree.children(parents), levels[level + 1], level + 1).reshape(-1, 8)
        # Phase-1 features only look at children of phase-0 parents: the whole next level gives
        # the encoder the same answers that the decoder gets from what it has decoded so far.
        yield parents, (levels[level + 1] if part else None), masks


def encode_geometry(ints, fracs, levels: list[np.ndarray], depth: int) -> bytes:
    """Range-code the child masks of levels 0..depth-1 with the fixed-point probabilities."""
    encoder = entropy.RowEncoder()
    for level in range(depth):
        for parents, known, masks in coding_order(levels, level):
            symbols = occupancy.masks(masks).astype(np.int32)
            for begin in range(0, len(parents), CODE_CHUNK):
                chunk = parents[begin : begin + CODE_CHUNK]
                features = occupancy.cell_features(chunk, levels[level], level, known)
                probs = occupancy.mask_probabilities(occupancy.child_probabilities(ints, fracs, features))
                encoder.encode(symbols[begin : begin + CODE_CHUNK], probs)
    return encoder.finish(trim=False)


def decode_geometry(data: bytes, ints, fracs, depth: int, max_cells: int) -> np.ndarray:
    """The occupied voxels of level ``depth``, sorted; inverse of :func:`encode_geometry`.

    The work is bounded by the file: every occupied cell holds at least one of the header's
    ``max_cells`` points, so a level's cells are counted from the decoded masks before they are
    built, and a decoder that has decoded more information than the chunk holds (a header
    deeper than the stream, or a corrupt stream) stops there (:class:`BitBudget`).
    """
    masks = _MaskDecoder(data)
    cells = np.zeros((1, 3), np.int64)
    for level in range(depth):
        cells = _decode_level(masks, ints, fracs, cells, level, max_cells)
    masks.finish()
    return cells


def _decode_level(masks: "_MaskDecoder", ints, fracs, cells: np.ndarray, level: int, max_cells: int) -> np.ndarray:
    """The occupied cells of level ``level + 1`` from those of ``level`` (phase 0 then phase 1)."""
    phase = octree.phases(cells)
    known, found, count = None, [], 0
    for part in (0, 1):
        parents = cells[phase == part]
        for begin in range(0, len(parents), CODE_CHUNK):
            chunk = parents[begin : begin + CODE_CHUNK]
            features = occupancy.cell_features(chunk, cells, level, known)
            probs = occupancy.mask_probabilities(occupancy.child_probabilities(ints, fracs, features))
            bits = occupancy.MASK_BITS[masks.decode(probs)].astype(bool)  # (P, 8)
            # Children of distinct parents are distinct: count them before building them.
            count += int(bits.sum())
            if count > max_cells:
                raise FormatError(f"geometry decodes to more cells at depth {level + 1} than the "
                                  f"file's {max_cells} points; the file is corrupt")
            found.append(octree.children(chunk)[bits.reshape(-1)])
        if part == 0:
            known = octree.unique_cells(np.concatenate(found), level + 1) if found else np.zeros((0, 3), np.int64)
    return octree.unique_cells(np.concatenate(found), level + 1)


class _MaskDecoder:
    """The range decoder of a geometry chunk, counting what it decodes against the chunk's bits."""

    def __init__(self, data: bytes) -> None:
        if len(data) % 4:
            raise FormatError("geometry chunk is not a whole number of 32-bit words")
        self._decoder = entropy.RowDecoder(data, "geometry chunk", "octree")
        self._budget = BitBudget("geometry chunk", "octree", len(data))

    def decode(self, probs: np.ndarray) -> np.ndarray:
        """Child mask symbols (0..254) of one batch of parents, with these mask probabilities."""
        symbols = self._decoder.decode(probs)
        self._budget.spend(probs, symbols)
        return symbols

    def finish(self) -> None:
        self._decoder.finish()


@dataclasses.dataclass
class FittedContext:
    """A fitted occupancy network, its power-of-two steps, and its estimated coded size."""

    model: occupancy.ContextMLP
    fracs: list[int]
    weight_bits: float
    total_bits: float  # weights plus all the masks (ideal code lengths)


def _fit_context(levels, depth, width, config, key, progress) -> FittedContext:
    """Fit the occupancy network on the levels above ``depth``; quantize it at the best steps."""
    features, labels, coverage = _training_set(levels, depth, np.random.default_rng(config.seed))
    report = (lambda d, t, loss: progress("fit", d, t, loss)) if progress else None
    model = fit_occupancy.fit(features, labels, width=width, depth=config.arch.context_depth,
                          steps=config.fit.steps, lr=config.fit.lr, batch_size=config.fit.batch_size or 4096,
                          key=key, progress=report)
    n_leaves = len(jax.tree_util.tree_leaves(model))
    best = None
    for frac in FRAC_BITS_CHOICES:
        ints = [quantize.quantize(np.asarray(leaf), -8 * frac) for leaf in jax.tree_util.tree_leaves(model)]
        weight_bits = _tensor_bits(ints)
        total = weight_bits + occupancy.ideal_bits(ints, [frac] * n_leaves, features, labels) / coverage
        if best is None or total < best.total_bits:
            best = FittedContext(model, [frac] * n_leaves, weight_bits, total)
    return best


def _training_set(levels, depth, rng):
    """Features and child masks of (a uniform sample of at most MAX_TRAIN_PARENTS) parents, and
    the fraction of all parents they are."""
    total = sum(len(levels[level]) for level in range(depth))
    keep = min(1.0, MAX_TRAIN_PARENTS / total)
    features, labels = [], []
    for level in range(depth):
        for parents, known, masks in coding_order(levels, level):
            if keep < 1.0 and len(parents):
                chosen = np.sort(rng.choice(len(parents), max(1, round(keep * len(parents))), replace=False))
                parents, masks = parents[chosen], masks[chosen]
            features.append(occupancy.cell_features(parents, levels[level], level, known))
            labels.append(masks)
    labels = np.concatenate(labels)
    return np.concatenate(features), labels, len(labels) / total


def _deepest_within(budget, levels, context, fracs, colour, signal_chunk, arch) -> int:
    """The deepest octree whose estimated file fits ``budget`` bits (the real size is checked after)."""
    ints = [quantize.quantize(np.asarray(leaf), -8 * f) for leaf, f in zip(jax.tree_util.tree_leaves(context), fracs)]
    fixed = 8 * (len(signal_chunk) + len(write_arch(arch)) + 64) + _tensor_bits(ints)
    if colour is not None:
        fixed += _tensor_bits(colour[1])
    if fixed > budget:
        raise ConfigError(f"rate target too low: the networks and headers alone take about {fixed / 8:.0f} bytes "
                          f"({fixed / budget:.1f} times the target)")
    spent = fixed
    for level in range(arch.depth):
        spent += _level_bits(ints, fracs, levels, level)
        if spent > budget:
            return max(level, 1)
    return arch.depth


def _level_bits(ints, fracs, levels, level) -> float:
    """Ideal code length of one level's masks, in batches of CODE_CHUNK parents (bounded memory)."""
    return sum(occupancy.ideal_bits(ints, fracs, occupancy.cell_features(parents[i : i + CODE_CHUNK], levels[level],
                                                                         level, known), masks[i : i + CODE_CHUNK])
               for parents, known, masks in coding_order(levels, level) for i in range(0, len(parents), CODE_CHUNK))


def _tensor_bits(ints) -> float:
    return sum(entropy.fit_model(q)[1] for q in ints)


def _fit_colour(signal: Signal, arch: PointFieldsConfig, config, key, progress):
    """Fit the colour hash grid to the input points; returns (model, integer tensors, codes)."""
    colour_config = arch.colour_config()
    init_key, fit_key = jax.random.split(key)
    model = colour_config.build(init_key)
    coords = jnp.asarray(_unit_coords(signal.data, signal.meta))
    targets = jnp.asarray(signal.attributes["colors"].astype(np.float32) / 255.0 - COLOUR_OFFSET)
    groups = weights.leaf_groups(model)
    fit_cfg = config.fit
    rate = grid_rate(model, groups, fit_cfg, None, [0.0], coords.shape[0])
    report = (lambda d, t, loss: progress("colour", d, t, loss)) if progress else None
    model = train(stack([model]), coords, targets[None], steps=fit_cfg.steps, schedule=schedule(fit_cfg, fit_cfg.steps),
                  batch_size=min(fit_cfg.batch_size or 4096, coords.shape[0]), key=fit_key, rate=rate,
                  progress=report)
    model = unstack(model, 1)[0]
    frozen = {i: fit_cfg.grid_step_code for i, g in enumerate(groups) if g == "grid"}

    def psnr_of(leaves):
        values = render(weights.with_leaves(model, leaves), coords)
        mse = float(jnp.mean((jnp.clip(values, -COLOUR_OFFSET, 1 - COLOUR_OFFSET) - targets) ** 2))
        return 10 * np.log10(1.0 / max(mse, 1e-12))

    search = quantize.StepSearch(weights.leaves(model), psnr_of, frozen=frozen)
    codes = list(search.search(groups, slope_db=config.quant.slope_db).codes)
    ints = [quantize.quantize(leaf, c) for leaf, c in zip(weights.leaves(model), codes)]
    return model, ints, codes


def _render_colours(model, points: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    values = check_finite(np.asarray(render(model, jnp.asarray(_unit_coords(points, meta)))), "decoded colour field")
    return np.clip(np.round((values + COLOUR_OFFSET) * 255.0), 0, 255).astype(np.uint8)


def _unit_coords(points: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    """Positions in the bounding cube mapped to [-1, 1]^3, float32."""
    return ((points - np.asarray(meta["origin"])) / meta["side"] * 2.0 - 1.0).astype(np.float32)


def _pack(signal_chunk, arch, context, fracs, colour, levels) -> bytes:
    model = eqx.tree_at(lambda m: m.context, arch.build(jax.random.PRNGKey(0)), context)
    if colour is not None:
        model = eqx.tree_at(lambda m: m.colour, model, colour[0])
    codes = [-8 * f for f in fracs] + (list(colour[2]) if colour is not None else [])
    table, payload, ints = weights.encode(model, codes)
    geometry = encode_geometry(ints[: len(fracs)], fracs, levels, arch.depth)
    return container.pack(container.Container(signal_chunk, write_arch(arch), table, payload, geometry))


def _frac_bits(codes) -> list[int]:
    if any(c % 8 or not 0 <= -c // 8 <= occupancy.MAX_FRAC_BITS for c in codes):
        raise FormatError(f"occupancy network steps must be powers of two 2^-0..2^-{occupancy.MAX_FRAC_BITS}")
    return [-c // 8 for c in codes]


OCTREE_CODEC = OctreeCodec()
