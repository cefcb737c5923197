"""Fitting the occupancy network of :mod:`inrcodec.occupancy` to a cloud's child masks:
minimising their cross-entropy is minimising their coded bits."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

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
    optimizer = optax.adam(schedule)
    state = optimizer.init(params)
    x_all, y_all = jnp.asarray(inputs), jnp.asarray(labels, jnp.float32)
    n = len(labels)

    def loss(p, x, y):
        logits = eqx.combine(p, static)(x.astype(jnp.float32))
        bits = jnp.sum(optax.sigmoid_binary_cross_entropy(logits, y), axis=-1)
        # A parent has at least one child: the empty mask's probability goes to the others.
        empty = jnp.minimum(jnp.sum(jax.nn.log_sigmoid(-logits), axis=-1), -1e-6)
        return jnp.mean(bits + jnp.log(-jnp.expm1(empty)))

    @eqx.filter_jit
    def run(p, s, k, length):
        def step(carry, k):
            p, s = carry
            idx = jax.random.randint(k, (min(batch_size, n),), 0, n)
            value, grads = jax.value_and_grad(loss)(p, x_all[idx], y_all[idx])
            updates, s = optimizer.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), value

        (p, s), values = jax.lax.scan(step, (p, s), jax.random.split(k, length))
        return p, s, values[-1]

    done, per_call = 0, 100
    while done < steps:
        length = min(per_call, steps - done)
        key, sub = jax.random.split(key)
        params, state, value = run(params, state, sub, length)
        done += length
        if progress is not None:
            progress(done, steps, float(value) / np.log(2.0))
    return eqx.combine(params, static)
