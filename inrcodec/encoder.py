"""Fit, quantise and entropy-code one signal into a .inrc byte string.

The stages, in order: size the network for the rate target, fit in float, search quantisation
steps, quantisation-aware fine-tune, code, and (with a target) make sure the real file fits.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from inrcodec import container, quantize, weights
from inrcodec.compile_cache import releases_compiled_programs
from inrcodec.config import CodecConfig
from inrcodec.errors import ConfigError
from inrcodec.fit import RateTerm, schedule, train
from inrcodec.inr import ArchConfig, write_arch
from inrcodec.modalities import REGISTRY, write_signal_chunk
from inrcodec.rate import GridRate, RateController
from inrcodec.signal import Signal

# First guess of the coded size of a network weight, used to split a budget between the MLP
# and the feature grids; the step search then spends what is really left.
MLP_BITS_PER_PARAM = 7.0

# The step search renders the signal in chunks of this many samples (bounded memory).
SEARCH_CHUNK = 1 << 18

# progress(phase, done, total, loss)
Progress = Callable[[str, int, int, float], None]


@dataclasses.dataclass
class Encoded:
    """The file and what it took to make it."""

    blob: bytes
    arch: ArchConfig
    search_psnr: float
    fit_seconds: float
    attempts: int


@releases_compiled_programs
def encode_signal(signal: Signal, config: CodecConfig, progress: Progress | None = None) -> Encoded:
    """Encode ``signal`` under ``config``; with a rate target the file is at most that size."""
    modality = REGISTRY[signal.modality]
    coords_np, targets_np = modality.samples(signal)
    coords, targets = jnp.asarray(coords_np), jnp.asarray(targets_np)
    arch = modality.adapt(config.arch, signal)
    arch.validate()
    signal_chunk = write_signal_chunk(modality, signal.meta)
    budget = modality.budget_bits(config.rate.target, signal.meta) if config.rate.target > 0 else None
    evaluate = _distortion_evaluator(modality, signal, coords_np)

    start = time.perf_counter()
    bits_per_param = config.rate.bits_per_param
    best: tuple[float, bytes, ArchConfig] | None = None
    attempts = 0
    for attempt in range(config.rate.max_attempts if budget else 1):
        attempts = attempt + 1
        sized = arch
        if budget is not None:
            overhead = overhead_bits(signal_chunk, arch)
            if budget <= overhead:
                raise ConfigError(f"rate target too low: the headers alone take {overhead / 8:.0f} bytes")
            sized = arch.resized(max(int((budget - overhead) / bits_per_param), 1))
        key = jax.random.PRNGKey(config.seed)
        blob, psnr = _fit_once(sized, coords, targets, signal_chunk, config, key, evaluate, budget, progress)
        if best is None or (psnr > best[0] and (budget is None or len(blob) * 8 <= budget)):
            best = (psnr, blob, sized)
        if budget is None or 0.9 * budget <= len(blob) * 8 <= budget:
            break
        # Resize from the bits per parameter this signal actually needed.
        spent = len(blob) * 8 - overhead_bits(signal_chunk, sized)
        bits_per_param = max(spent / sized.param_count(), 0.25)
    psnr, blob, sized = best
    return Encoded(blob, sized, psnr, time.perf_counter() - start, attempts)


def _fit_once(arch, coords, targets, signal_chunk, config, key, evaluate, budget, progress):
    fit_cfg = config.fit
    init_key, fit_key, qat_key = jax.random.split(key, 3)
    model = arch.build(init_key)
    groups = weights.leaf_groups(model)
    qat_steps = int(round(fit_cfg.steps * fit_cfg.qat_fraction))
    float_steps = fit_cfg.steps - qat_steps
    fixed_bits = overhead_bits(signal_chunk, arch)
    rate = grid_rate(model, groups, fit_cfg, budget, fixed_bits, coords.shape[0])
    report = (lambda phase: (lambda d, t, l: progress(phase, d, t, l))) if progress else (lambda phase: None)
    common = dict(batch_size=fit_cfg.batch_size, steps_per_call=fit_cfg.steps_per_call, rate=rate)
    model = train(model, coords, targets, steps=float_steps, schedule=schedule(fit_cfg, float_steps), key=fit_key,
                  progress=report("fit"), **common)

    # Grids keep the step they were trained at; the search picks the other steps.
    frozen = {i: fit_cfg.grid_step_code for i, g in enumerate(groups) if g == "grid"}
    model = _make_room_for_mlp(model, groups, frozen, budget, fixed_bits)
    search = quantize.StepSearch(weights.leaves(model), lambda leaves: evaluate(model, leaves), frozen=frozen)
    codes = list(search.search(groups, slope_db=config.quant.slope_db, fixed_bits=fixed_bits, target_bits=budget).codes)
    if qat_steps:
        if rate is not None:
            # Rounded grids from here on, aiming at what the chosen MLP steps leave.
            rate.hard = True
            if budget is not None:
                mlp_bits = sum(search.tensor_bits(i, c) for i, c in enumerate(codes) if i not in frozen)
                rate.controller.target = max(budget - fixed_bits - mlp_bits, 0.05 * budget) / coords.shape[0]
        steps_tree = weights.with_leaves(
            model, [np.float32(0.0 if i in frozen else quantize.step_size(c)) for i, c in enumerate(codes)]
        )
        lr = fit_cfg.lr * fit_cfg.qat_lr_fraction
        model = train(model, coords, targets, steps=qat_steps, schedule=schedule(fit_cfg, qat_steps, lr=lr),
                      key=qat_key, quant_steps=steps_tree, progress=report("quantise"), **common)
    model_chunk = write_arch(arch)
    blob = _pack(signal_chunk, model_chunk, model, codes)
    if budget is not None and len(blob) * 8 > budget:
        # Fine-tuning moved the weights: search the free steps again under the real budget.
        search = quantize.StepSearch(weights.leaves(model), lambda leaves: evaluate(model, leaves), frozen=frozen)
        slack = len(blob) * 8 - search.bits(codes) - fixed_bits  # real vs ideal: coder and table overhead
        model = _make_room_for_mlp(model, groups, frozen, budget, fixed_bits + slack)
        search = quantize.StepSearch(weights.leaves(model), lambda leaves: evaluate(model, leaves), frozen=frozen)
        codes = list(search.search(groups, slope_db=config.quant.slope_db, fixed_bits=fixed_bits + slack,
                                   target_bits=budget).codes)
        blob = _pack(signal_chunk, model_chunk, model, codes)
    while budget is not None and len(blob) * 8 > budget and min(codes) < quantize.MAX_CODE:
        codes = [min(c + 1, quantize.MAX_CODE) for c in codes]  # last resort: the target is a hard limit
        blob = _pack(signal_chunk, model_chunk, model, codes)
    dequantised = [quantize.dequantize(quantize.quantize(leaf, c), c) for leaf, c in zip(weights.leaves(model), codes)]
    return blob, evaluate(model, dequantised)


def _make_room_for_mlp(model, groups, frozen: dict[int, int], budget, fixed_bits, mlp_offset: int = -24):
    """Zero the grids' smallest entries (a growing dead zone) until the MLP fits beside them at
    moderate precision (steps of 1/8 of each tensor's spread).

    Without this a grid that overshot its rate would leave the MLP no bits, and the search
    would quantise the MLP to nothing: a blank output instead of a slightly coarser one.
    """
    if budget is None or not frozen:
        return model
    leaves = weights.leaves(model)
    floor = quantize.StepSearch(leaves, lambda _: 0.0, frozen=frozen).initial_codes(groups, {"mlp": mlp_offset})
    for dead_zone in range(0, 64):
        if quantize.StepSearch(leaves, lambda _: 0.0, frozen=frozen).bits(floor) + fixed_bits <= budget:
            break
        leaves = [
            np.where(np.abs(quantize.quantize(leaf, frozen[i])) <= dead_zone + 1, 0.0, leaf).astype(np.float32)
            if i in frozen else leaf
            for i, leaf in enumerate(leaves)
        ]
    return weights.with_leaves(model, leaves)


def grid_rate(model, groups, fit_cfg, budget, fixed_bits, samples) -> RateTerm | None:
    """The rate term for feature grids, aiming at what the target leaves after the MLP."""
    is_grid = tuple(g == "grid" for g in groups)
    if not any(is_grid):
        return None
    target = None
    if budget is not None:
        mlp_params = sum(leaf.size for leaf, g in zip(weights.leaves(model), is_grid) if not g)
        target = max(budget - fixed_bits - MLP_BITS_PER_PARAM * mlp_params, 0.05 * budget) / samples
    grid = GridRate(is_grid, quantize.step_size(fit_cfg.grid_step_code))
    return RateTerm(grid, grid.init_scales(), RateController(fit_cfg.lmbda, target))


def _pack(signal_chunk: bytes, model_chunk: bytes, model, codes) -> bytes:
    table, payload, _ = weights.encode(model, codes)
    return container.pack(container.Container(signal_chunk, model_chunk, table, payload))


def overhead_bits(signal_chunk: bytes, arch: ArchConfig) -> float:
    """Bits of everything but the payload: headers, tensor table (about 6 bytes a tensor), CRC."""
    n_tensors = len(jax.tree_util.tree_leaves(weights.skeleton(arch)))
    return 8.0 * (len(signal_chunk) + len(write_arch(arch)) + 6 * n_tensors + 6 + 4 * 4 + 4)


def _distortion_evaluator(modality, signal: Signal, coords: np.ndarray):
    """``evaluate(model, leaves)``: the PSNR of the network with those leaves over every sample,
    rendered in chunks of SEARCH_CHUNK samples so memory does not grow with the signal."""
    reference, peak = modality.search_target(signal)
    n = coords.shape[0]
    size = min(n, SEARCH_CHUNK)
    pad = (-n) % size
    coords = jnp.asarray(np.concatenate([coords, np.zeros((pad, coords.shape[1]), coords.dtype)]))
    reference = jnp.asarray(np.concatenate([reference, np.zeros((pad, reference.shape[1]), reference.dtype)]))
    mask = jnp.asarray(np.arange(n + pad) < n, jnp.float32)[:, None]

    @eqx.filter_jit
    def chunk_error(model, leaves, x, y, m):
        out = modality.search_output(weights.with_leaves(model, leaves)(x), peak)
        return jnp.sum(m * (out - y) ** 2)

    def evaluate(model, leaves) -> float:
        leaves = [jnp.asarray(x) for x in leaves]
        sse = sum(float(chunk_error(model, leaves, coords[i : i + size], reference[i : i + size], mask[i : i + size]))
                  for i in range(0, n + pad, size))
        value = 10.0 * math.log10(peak**2 / max(sse / (n * reference.shape[1]), 1e-20)) if math.isfinite(sse) else -math.inf
        return value if math.isfinite(value) else -math.inf

    return evaluate
