"""Per-signal optimisation with Optax: one jitted step, many steps per call via lax.scan."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from inrcodec.quantize import fake_quantize

ProgressFn = Callable[[int, int, float], None]


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Optimiser settings. ``batch_size = 0`` fits on all coordinates at every step."""

    steps: int = 2000
    lr: float = 1e-2
    warmup: int = 50
    final_lr_fraction: float = 0.05
    batch_size: int = 0
    steps_per_call: int = 100
    qat_fraction: float = 0.15
    qat_lr_fraction: float = 0.1
    # L1 weight on feature-grid entries per signal sample: a cheap stand-in for their coded
    # size under a Laplace model, which pushes unneeded entries to zero (fewer bits).
    grid_l1: float = 0.0


def train(
    model,
    coords: jax.Array,
    targets: jax.Array,
    *,
    steps: int,
    schedule: optax.Schedule,
    batch_size: int,
    key: jax.Array,
    steps_per_call: int = 100,
    quant_steps=None,
    penalty: Callable | None = None,
    progress: ProgressFn | None = None,
):
    """Minimise the mean squared error of ``model(coords)`` against ``targets``.

    With ``quant_steps`` (one scalar per parameter leaf) the forward pass sees the parameters
    rounded to those steps (straight-through gradient): quantisation-aware fine-tuning.
    ``penalty(params)`` is added to the loss (e.g. a rate proxy).
    """
    params, static = eqx.partition(model, eqx.is_inexact_array)
    optimizer = optax.adam(schedule, b1=0.9, b2=0.99, eps=1e-15)
    opt_state = optimizer.init(params)
    n = coords.shape[0]
    full_batch = batch_size <= 0 or batch_size >= n

    def loss_fn(p, x, y):
        if quant_steps is not None:
            p = fake_quantize(p, quant_steps)
        pred = eqx.combine(p, static)(x)
        loss = jnp.mean((pred - y) ** 2)
        return loss if penalty is None else loss + penalty(p)

    @eqx.filter_jit
    def run(params, opt_state, key, length):
        def step(carry, k):
            p, s = carry
            if full_batch:
                x, y = coords, targets
            else:
                idx = jax.random.randint(k, (batch_size,), 0, n)
                x, y = coords[idx], targets[idx]
            loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
            updates, s = optimizer.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), jax.random.split(key, length))
        return params, opt_state, losses[-1]

    done = 0
    while done < steps:
        length = min(steps_per_call, steps - done)
        key, sub = jax.random.split(key)
        params, opt_state, loss = run(params, opt_state, sub, length)
        done += length
        if progress is not None:
            progress(done, steps, float(loss))
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
