"""Fitting the occupancy network of :mod:`inrcodec.occupancy` to a cloud's child masks:
minimising their cross-entropy is minimising their coded bits."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from inrcodec.fit import call_rates
from inrcodec.occupancy import ContextMLP


def fit(features: np.ndarray, labels: np.ndarray, *, width: int, depth: int, steps: int, lr: float,
        batch_size: int, key: jax.Array, progress=None) -> ContextMLP:
    """Fit the context network to (P, 8, FEATURES) inputs and (P, 8) child occupancies."""
    init_key, key = jax.random.split(key)
    return fit_masks(ContextMLP(width, depth, init_key), features, labels, steps=steps, lr=lr,
                     batch_size=batch_size, key=key, progress=progress)


def fit_masks(model, inputs: np.ndarray, labels: np.ndarray, *, steps: int, lr: float, batch_size: int,
              key: jax.Array, progress=None):
    """Fit ``model`` ((B, 8, F) inputs -> (B, 8) logits) by minimising the code length of the
    child masks (see :func:`mask_probabilities`), in random batches of parents."""
    params, static = eqx.partition(model, eqx.is_inexact_array)
    schedule = optax.warmup_cosine_decay_schedule(0.0, lr, min(100, steps // 10 + 1), max(steps, 101), lr * 0.05)
    state = _MASK_ADAM.init(params)
    x_all, y_all = jnp.asarray(inputs), jnp.asarray(labels, jnp.float32)
    batch = min(batch_size, len(labels))

    done, per_call = 0, 100
    while done < steps:
        length = min(per_call, steps - done)
        key, sub = jax.random.split(key)
        rates = call_rates(schedule, done, per_call)
        params, state, value = _mask_steps(params, state, sub, np.asarray(length, np.int32), rates, x_all, y_all,
                                           static, batch)
        done += length
        if progress is not None:
            progress(done, steps, float(value) / np.log(2.0))
    return eqx.combine(params, static)


# Adam with the learning rate of each step an argument: one compiled program per shape and
# network, shared by every fit in the process.
_MASK_ADAM = optax.scale_by_adam()


def _mask_loss(p, static, x, y):
    logits = eqx.combine(p, static)(x.astype(jnp.float32))
    bits = jnp.sum(optax.sigmoid_binary_cross_entropy(logits, y), axis=-1)
    # A parent has at least one child: the empty mask's probability goes to the others.
    empty = jnp.minimum(jnp.sum(jax.nn.log_sigmoid(-logits), axis=-1), -1e-6)
    return jnp.mean(bits + jnp.log(-jnp.expm1(empty)))


@eqx.filter_jit
def _mask_steps(p, s, key, length, rates, x_all, y_all, static, batch: int):
    """``length`` (at most ``len(rates)``) steps of :func:`fit_masks`; ``static`` and ``batch``
    are static, so fits of the same shapes share the program."""
    n = y_all.shape[0]
    keys = jax.random.split(key, rates.shape[0])

    def step(i, carry):
        p, s, _ = carry
        idx = jax.random.randint(keys[i], (batch,), 0, n)
        value, grads = jax.value_and_grad(_mask_loss)(p, static, x_all[idx], y_all[idx])
        direction, s = _MASK_ADAM.update(grads, s, p)
        return jax.tree_util.tree_map(lambda w, d: w - rates[i] * d, p, direction), s, value

    return jax.lax.fori_loop(0, length, step, (p, s, jnp.zeros((), jnp.float32)))
