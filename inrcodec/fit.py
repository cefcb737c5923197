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
    progress: ProgressFn | None = None,
):
    """Minimise the mean squared error of every model of a pack against its own targets.

    ``models`` is a pack (:func:`stack`) of P same-shaped models fitted side by side in one
    jitted program (tiny signals are dominated by dispatch, so P of them cost little more than
    one); ``targets`` is (P, N, C) at the shared ``coords`` (N, d). Signals see the same random
    batches and noise, so a pack of one is the plain fit and a signal fits alike in any pack.

    With ``quant_steps`` (a pack like the parameters; 0 = leave the leaf alone) the forward
    pass sees the parameters rounded to those steps (straight-through): quantisation-aware
    fine-tuning. With ``rate`` the grid leaves are perturbed and their estimated bits per
    sample, weighted by each signal's lambda, are added to the loss; ``rate`` is updated in
    place (scales, lambdas, last estimates).
    """
    params, static = eqx.partition(models, eqx.is_inexact_array)
    trainable = (params, rate.log_scales if rate else [])
    optimizer = optax.adam(schedule, b1=0.9, b2=0.99, eps=1e-15)  # elementwise: a pack is P fits
    opt_state = optimizer.init(trainable)
    n = coords.shape[0]
    full_batch = batch_size <= 0 or batch_size >= n

    def signal_loss(t, q, x, y, lmbda, k):
        p, log_scales = t
        if quant_steps is not None:
            p = fake_quantize(p, q)
        bits = jnp.zeros(())
        if rate is not None:
            # Rate from noisy grids even when the synthesis sees rounded ones: the rounded
            # rate has no gradient at an integer, so entries would drift off zero unchecked.
            noisy = rate.grid.perturb(p, k, hard=False)
            bits = rate.grid.bits(noisy, log_scales) / n
            p = rate.grid.perturb(p, k, hard=True) if rate.hard else noisy
        mse = jnp.mean((eqx.combine(p, static)(x) - y) ** 2)
        return mse + lmbda * bits, mse

    def pack_loss(t, q, x, y, lmbda, k):
        losses, mse = jax.vmap(signal_loss, in_axes=(0, 0, None, 0, 0, None))(t, q, x, y, lmbda, k)
        return jnp.sum(losses), mse  # signals are independent: each gets its own gradient

    def rounded_bits(t, k):
        return rate.grid.bits(rate.grid.perturb(t[0], k, hard=True), t[1]) / n

    # The signal's arrays are arguments, not constants of the program: its compiled form then
    # depends on shapes alone, and JAX's persistent cache serves every same-shaped signal.
    @eqx.filter_jit
    def run(trainable, opt_state, key, lmbda, length, coords, targets, quant_steps):
        def step(carry, k):
            t, s = carry
            batch_key, noise_key = jax.random.split(k)
            if full_batch:
                x, y = coords, targets
            else:
                idx = jax.random.randint(batch_key, (batch_size,), 0, n)
                x, y = coords[idx], targets[:, idx]
            (_, mse), grads = jax.value_and_grad(pack_loss, has_aux=True)(t, quant_steps, x, y, lmbda, noise_key)
            updates, s = optimizer.update(grads, s, t)
            return (optax.apply_updates(t, updates), s), mse

        (trainable, opt_state), mse = jax.lax.scan(step, (trainable, opt_state), jax.random.split(key, length))
        # The controllers see the bits of the rounded grids, as the entropy coder will.
        bits = jax.vmap(rounded_bits, in_axes=(0, None))(trainable, key) if rate else jnp.zeros(mse.shape[1:])
        return trainable, opt_state, mse[-1], bits

    done = 0
    while done < steps:
        length = min(steps_per_call, steps - done)
        key, sub = jax.random.split(key)
        lmbda = jnp.asarray([c.lmbda for c in rate.controllers] if rate else np.zeros(targets.shape[0]), jnp.float32)
        trainable, opt_state, mse, bits = run(trainable, opt_state, sub, lmbda, length, coords, targets, quant_steps)
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


def schedule(config: FitConfig, steps: int, lr: float | None = None) -> optax.Schedule:
    """Linear warm-up then cosine decay to ``final_lr_fraction`` of the peak."""
    peak = config.lr if lr is None else lr
    warmup = min(config.warmup, max(steps // 10, 1))
    return optax.warmup_cosine_decay_schedule(
        0.0, peak, warmup, max(steps, warmup + 1), end_value=peak * config.final_lr_fraction
    )


def render(model, coords: jax.Array, chunk: int = 1 << 16) -> jax.Array:
    """Evaluate the model on many coordinates in fixed-size chunks (bounded memory, one compile)."""
    apply = _apply_chunk
    n = coords.shape[0]
    pad = (-n) % chunk if n > chunk else 0
    size = chunk if n > chunk else n
    padded = jnp.concatenate([coords, jnp.zeros((pad, coords.shape[1]), coords.dtype)]) if pad else coords
    parts = [apply(model, padded[i : i + size]) for i in range(0, padded.shape[0], size)]
    return jnp.concatenate(parts)[:n]


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
