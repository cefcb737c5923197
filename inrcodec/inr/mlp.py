"""Dense layers shared by the architectures: init and apply, no classes."""

from __future__ import annotations

import jax


def uniform_layers(key: jax.Array, sizes: list[int], bounds: list[float]) -> tuple[list, list]:
    """Weights (in, out) and biases (out,) drawn uniformly in ±bound, one bound per layer."""
    weights, biases = [], []
    keys = jax.random.split(key, 2 * (len(sizes) - 1))
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = bounds[i]
        weights.append(jax.random.uniform(keys[2 * i], (n_in, n_out), minval=-bound, maxval=bound))
        biases.append(jax.random.uniform(keys[2 * i + 1], (n_out,), minval=-bound, maxval=bound))
    return weights, biases


def relu_mlp(h: jax.Array, weights: list, biases: list) -> jax.Array:
    for w, b in zip(weights[:-1], biases[:-1]):
        h = jax.nn.relu(h @ w + b)
    return h @ weights[-1] + biases[-1]
