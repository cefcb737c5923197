"""Optimisation with Optax of one signal or a pack of same-shaped signals side by side: one
jitted step, many steps per call via lax.scan."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from inrcodec import quantize, weights
from inrcodec.config import FitConfig
from inrcodec.quantize import fake_quantize
from inrcodec.rate import GridRate, RateController

ProgressFn = Callable[[int, int, float], None]


@dataclasses.dataclass
class RateTerm:
    """Grid rate training state of a pack: the proxy, learned scales, one controller per signal,
    the phase."""

    grid: GridRate
    log_scales: list  # one (P,) array per grid tensor: each signal learns its own scales
    controllers: list[RateController]
    hard: bool = False
    bits_per_sample: np.ndarray | None = None  # (P,) after each call


def stack(models: Sequence):
    """One pack from same-shaped models: every array leaf gains a leading axis of signals."""
    return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *models)


def unstack(pack, count: int) -> list:
    """The models of a pack, in order."""
    return [jax.tree_util.tree_map(lambda leaf: leaf[i], pack) for i in range(count)]


# One Adam for every fit, elementwise (a pack is P fits); the learning rate of each step is an
# argument of the compiled program (from the caller's schedule), not a constant of it.
_ADAM = optax.scale_by_adam(b1=0.9, b2=0.99, eps=1e-15)


def train(
    models,
    coords: jax.Array,
    targets: jax.Array,
    *,
    steps: int,
    schedule: optax.Schedule,
    batch_size: int,
    key: jax.Array,
    steps_per_call: int = 100,
    quant_steps=None,
    rate: RateTerm | None = None,
    sample_weights: jax.Array | None = None,
    progress: ProgressFn | None = None,
):
    """Minimise the mean squared error of every model of a pack against its own targets.

    ``models`` is a pack (:func:`stack`) of P same-shaped models fitted side by side in one
    jitted program (tiny signals are dominated by dispatch, so P of them cost little more than
    one); ``targets`` is (P, N, C) at the shared ``coords`` (N, d). Signals see the same random
    batches and noise, so a pack of one is the plain fit and a signal fits alike in any pack.

    With ``quant_steps`` (a pack like the parameters; 0 = leave the leaf alone) the forward
    pass sees the parameters rounded to those steps (straight-through): quantization-aware
    fine-tuning. With ``rate`` the grid leaves are perturbed and their estimated bits per
    sample, weighted by each signal's lambda, are added to the loss; ``rate`` is updated in
    place (scales, lambdas, last estimates). ``sample_weights`` (P, N), of mean 1, weigh each
    sample's squared error (audio's loudness weighting); None weighs all alike.

    The compiled program is a module-level one, keyed by shapes and structure alone (the
    signal, the learning rates and the rate weights are its arguments): every fit of the same
    shapes in the process reuses it.
    """
    params, static = eqx.partition(models, eqx.is_inexact_array)
    trainable = (params, rate.log_scales if rate else [])
    opt_state = _ADAM.init(trainable)
    n = coords.shape[0]
    batch = 0 if batch_size <= 0 or batch_size >= n else batch_size  # 0: all coordinates at every step
    grid, hard = (rate.grid, rate.hard) if rate is not None else (None, False)

    done = 0
    while done < steps:
        length = min(steps_per_call, steps - done)
        key, sub = jax.random.split(key)
        lmbda = jnp.asarray([c.lmbda for c in rate.controllers] if rate else np.zeros(targets.shape[0]), jnp.float32)
        rates = call_rates(schedule, done, steps_per_call)
        trainable, opt_state, mse, bits = _train_steps(trainable, opt_state, sub, np.asarray(length, np.int32), lmbda,
                                                       rates, coords, targets, sample_weights, quant_steps, static, grid,
                                                       hard, batch)
        done += length
        if rate is not None:
            rate.bits_per_sample = np.asarray(bits, np.float64)
            for controller, estimate in zip(rate.controllers, rate.bits_per_sample):
                controller.update(float(estimate))
        if progress is not None:
            progress(done, steps, float(jnp.mean(mse)))
    params, log_scales = trainable
    if rate is not None:
        rate.log_scales = log_scales
    return eqx.combine(params, static)


def call_rates(schedule: optax.Schedule, done: int, per_call: int) -> np.ndarray:
    """The learning rates of steps ``done .. done + per_call - 1`` (float32), always ``per_call``
    of them: a program that runs fewer steps ignores the rest, and the rates are computed by the
    same few small programs whatever the step counts."""
    return np.asarray(schedule(np.arange(done, done + per_call)), np.float32)


# The signal's arrays are arguments, not constants of the program, and so are the learning
# rates, the rate weights and the number of steps: its compiled form depends on shapes and
# structure alone, and JAX's caches (in memory and on disk) serve every same-shaped fit.
@eqx.filter_jit
def _train_steps(trainable, opt_state, key, length, lmbda, rates, coords, targets, sample_weights, quant_steps,
                 static, grid, hard: bool, batch: int):
    """``length`` (at most ``len(rates)``) Adam steps of :func:`train`, one learning rate each.
    ``static``, ``grid`` (a ``GridRate`` or None), ``hard`` and ``batch`` are static."""
    n = coords.shape[0]

    def signal_loss(t, q, x, y, v, lmbda, k):
        p, log_scales = t
        if quant_steps is not None:
            p = fake_quantize(p, q)
        bits = jnp.zeros(())
        if grid is not None:
            # Rate from noisy grids even when the synthesis sees rounded ones: the rounded
            # rate has no gradient at an integer, so entries would drift off zero unchecked.
            noisy = grid.perturb(p, k, hard=False)
            bits = grid.bits(noisy, log_scales) / n
            p = grid.perturb(p, k, hard=True) if hard else noisy
        squared = (eqx.combine(p, static)(x) - y) ** 2
        mse = jnp.mean(squared)
        distortion = mse if v is None else jnp.mean(v[:, None] * squared)
        return distortion + lmbda * bits, mse

    def pack_loss(t, q, x, y, v, lmbda, k):
        v_axis = None if v is None else 0
        losses, mse = jax.vmap(signal_loss, in_axes=(0, 0, None, 0, v_axis, 0, None))(t, q, x, y, v, lmbda, k)
        return jnp.sum(losses), mse  # signals are independent: each gets its own gradient

    def rounded_bits(t, k):
        return grid.bits(grid.perturb(t[0], k, hard=True), t[1]) / n

    keys = jax.random.split(key, rates.shape[0])

    def step(i, carry):
        t, s, _ = carry
        batch_key, noise_key = jax.random.split(keys[i])
        if batch == 0:
            x, y, v = coords, targets, sample_weights
        else:
            idx = jax.random.randint(batch_key, (batch,), 0, n)
            x, y = coords[idx], targets[:, idx]
            v = None if sample_weights is None else sample_weights[:, idx]
        (_, mse), grads = jax.value_and_grad(pack_loss, has_aux=True)(t, quant_steps, x, y, v, lmbda, noise_key)
        direction, s = _ADAM.update(grads, s, t)
        return jax.tree_util.tree_map(lambda w, d: w - rates[i] * d, t, direction), s, mse

    no_mse = jnp.zeros(targets.shape[:1], jnp.float32)
    trainable, opt_state, mse = jax.lax.fori_loop(0, length, step, (trainable, opt_state, no_mse))
    # The controllers see the bits of the rounded grids, as the entropy coder will.
    bits = jax.vmap(rounded_bits, in_axes=(0, None))(trainable, key) if grid is not None else jnp.zeros(mse.shape)
    return trainable, opt_state, mse, bits


def schedule(config: FitConfig, steps: int, lr: float | None = None) -> optax.Schedule:
    """Linear warm-up then cosine decay to ``final_lr_fraction`` of the peak."""
    peak = config.lr if lr is None else lr
    warmup = min(config.warmup, max(steps // 10, 1))
    return optax.warmup_cosine_decay_schedule(
        0.0, peak, warmup, max(steps, warmup + 1), end_value=peak * config.final_lr_fraction
    )


RENDER_CHUNK = 1 << 16
RENDER_PART = 1 << 20  # coordinates made at a time by render_parts


def render(model, coords: jax.Array, chunk: int = RENDER_CHUNK, pad: bool = False) -> jax.Array:
    """Evaluate the model on many coordinates in fixed-size chunks (bounded memory, one compile);
    with ``pad`` a short input is padded to a whole chunk too (the same compiled program)."""
    apply = _apply_chunk
    n = coords.shape[0]
    whole = pad or n > chunk
    pad = (-n) % chunk if whole else 0
    size = chunk if whole else n
    padded = jnp.concatenate([coords, jnp.zeros((pad, coords.shape[1]), coords.dtype)]) if pad else coords
    parts = [apply(model, padded[i : i + size]) for i in range(0, padded.shape[0], size)]
    return jnp.concatenate(parts)[:n]


def render_parts(model, coords_at: Callable[[int, int], np.ndarray], count: int,
                 convert: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``convert`` of the ``render`` of ``count`` coordinates that ``coords_at(start, stop)``
    makes, a part at a time: the memory of a large render is its converted output's. The
    same values as one ``render`` call (the same chunks, at the same boundaries)."""
    out = None
    for start in range(0, count, RENDER_PART):
        coords = jnp.asarray(coords_at(start, min(count, start + RENDER_PART)))
        values = convert(np.asarray(render(model, coords, pad=count > RENDER_CHUNK)))
        if out is None:
            out = np.empty((count, values.shape[1]), values.dtype)
        out[start : start + len(values)] = values
    return out


@eqx.filter_jit
def _apply_chunk(model, coords):
    return model(coords)


# First guess of the coded size of a network weight, used to split a budget between the MLP
# and the feature grids; the step search then spends what is really left.
MLP_BITS_PER_PARAM = 7.0


def grid_rate(model, groups, fit_cfg, budget, fixed_bits: Sequence[float], samples) -> RateTerm | None:
    """The rate term for the feature grids of a pack (one entry of ``fixed_bits`` per signal),
    each signal aiming at what the target leaves after its MLP."""
    is_grid = tuple(g == "grid" for g in groups)
    if not any(is_grid):
        return None
    mlp_params = sum(leaf.size for leaf, g in zip(weights.leaves(model), is_grid) if not g)
    targets = [None if budget is None else
               max(budget - bits - MLP_BITS_PER_PARAM * mlp_params, 0.05 * budget) / samples for bits in fixed_bits]
    grid = GridRate(is_grid, quantize.step_size(fit_cfg.grid_step_code))
    return RateTerm(grid, grid.init_scales(len(fixed_bits)), [RateController(fit_cfg.lmbda, t) for t in targets])
