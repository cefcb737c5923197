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
from inrcodec.config import CodecConfig
from inrcodec.errors import ConfigError
from inrcodec.fit import schedule, train
from inrcodec.inr import ArchConfig, write_arch
from inrcodec.modalities import REGISTRY, write_signal_chunk
from inrcodec.signal import Signal

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


def encode_signal(signal: Signal, config: CodecConfig, progress: Progress | None = None) -> Encoded:
    """Encode ``signal`` under ``config``; with a rate target the file is at most that size."""
    modality = REGISTRY[signal.modality]
    coords_np, targets_np = modality.samples(signal)
    coords, targets = jnp.asarray(coords_np), jnp.asarray(targets_np)
    arch = modality.adapt(config.arch, signal)
    arch.validate()
    signal_chunk = write_signal_chunk(modality, signal.meta)
    budget = modality.budget_bits(config.rate.target, signal.meta) if config.rate.target > 0 else None
    evaluate = _distortion_evaluator(modality.search_distortion(signal), coords)

    start = time.perf_counter()
    bits_per_param = config.rate.bits_per_param
    best: tuple[float, bytes, ArchConfig] | None = None
    attempts = 0
    for attempt in range(config.rate.max_attempts if budget else 1):
        attempts = attempt + 1
        sized = arch
        if budget is not None:
            overhead = _overhead_bits(signal_chunk, arch)
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
        spent = len(blob) * 8 - _overhead_bits(signal_chunk, sized)
        bits_per_param = max(spent / sized.param_count(), 0.25)
    psnr, blob, sized = best
    return Encoded(blob, sized, psnr, time.perf_counter() - start, attempts)


def _fit_once(arch, coords, targets, signal_chunk, config, key, evaluate, budget, progress):
    fit_cfg = config.fit
    init_key, fit_key, qat_key = jax.random.split(key, 3)
    model = arch.build(init_key)
    qat_steps = int(round(fit_cfg.steps * fit_cfg.qat_fraction))
    float_steps = fit_cfg.steps - qat_steps
    report = (lambda phase: (lambda d, t, l: progress(phase, d, t, l))) if progress else (lambda phase: None)
    penalty = _grid_l1(model, fit_cfg.grid_l1 / coords.shape[0]) if fit_cfg.grid_l1 > 0 else None
    model = train(
        model, coords, targets, steps=float_steps, schedule=schedule(fit_cfg, float_steps),
        batch_size=fit_cfg.batch_size, key=fit_key, steps_per_call=fit_cfg.steps_per_call, penalty=penalty,
        progress=report("fit"),
    )
    model_chunk = write_arch(arch)
    fixed_bits = _overhead_bits(signal_chunk, arch)
    search = quantize.StepSearch(weights.leaves(model), lambda leaves: evaluate(model, leaves))
    choice = search.search(weights.leaf_groups(model), slope_db=config.quant.slope_db, fixed_bits=fixed_bits,
                           target_bits=budget)
    codes = list(choice.codes)
    if qat_steps:
        steps_tree = weights.with_leaves(model, [np.float32(quantize.step_size(c)) for c in codes])
        lr = fit_cfg.lr * fit_cfg.qat_lr_fraction
        model = train(
            model, coords, targets, steps=qat_steps, schedule=schedule(fit_cfg, qat_steps, lr=lr),
            batch_size=fit_cfg.batch_size, key=qat_key, steps_per_call=fit_cfg.steps_per_call,
            quant_steps=steps_tree, penalty=penalty, progress=report("quantise"),
        )
    blob = _pack(signal_chunk, model_chunk, model, codes)
    while budget is not None and len(blob) * 8 > budget and min(codes) < quantize.MAX_CODE:
        codes = [min(c + 1, quantize.MAX_CODE) for c in codes]  # coarser steps until the real file fits
        blob = _pack(signal_chunk, model_chunk, model, codes)
    dequantised = [quantize.dequantize(quantize.quantize(leaf, c), c) for leaf, c in zip(weights.leaves(model), codes)]
    return blob, evaluate(model, dequantised)


def _grid_l1(model, weight: float):
    is_grid = [g == "grid" for g in weights.leaf_groups(model)]

    def penalty(params):
        leaves = jax.tree_util.tree_leaves(params)
        return weight * sum(jnp.sum(jnp.abs(x)) for x, grid in zip(leaves, is_grid) if grid)

    return penalty


def _pack(signal_chunk: bytes, model_chunk: bytes, model, codes) -> bytes:
    table, payload, _ = weights.encode(model, codes)
    return container.pack(container.Container(signal_chunk, model_chunk, table, payload))


def _overhead_bits(signal_chunk: bytes, arch: ArchConfig) -> float:
    """Bits of everything but the payload: headers, tensor table (about 6 bytes a tensor), CRC."""
    n_tensors = len(jax.tree_util.tree_leaves(weights.skeleton(arch)))
    return 8.0 * (len(signal_chunk) + len(write_arch(arch)) + 6 * n_tensors + 6 + 4 * 4 + 4)


def _distortion_evaluator(psnr_fn, coords):
    @eqx.filter_jit
    def run(model, leaves, coords):
        return psnr_fn(weights.with_leaves(model, leaves)(coords))

    def evaluate(model, leaves) -> float:
        value = float(run(model, [jnp.asarray(x) for x in leaves], coords))
        return value if math.isfinite(value) else -math.inf

    return evaluate
