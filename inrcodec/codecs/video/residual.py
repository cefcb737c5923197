"""Fitting a P frame's residual: latent grids (and, for the first P frame, the shared synthesis
and ARM) so that prediction + synthesis(latents) matches the frame, at a rate weight lambda.

The loss is the image codec's (:mod:`inrcodec.codecs.latent.training`): squared error plus
lambda times the float ARM's code length of soft-rounded, noisy latents per pixel; here the
networks can be frozen, so a frame after the first fits only its latents.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from inrcodec.codecs.latent.training import latent_bits, per_step, quantized_latents
from inrcodec.inr.latentgrid import LOG_SCALE_MIN

_ADAM = optax.scale_by_adam(b1=0.9, b2=0.999)


def fit_residual(net, latents, target: jax.Array, lmbda: float, rates: np.ndarray, settings, key: jax.Array,
                 step: float, train_networks: bool, hard: bool = False, state=None):
    """``len(rates)`` Adam steps on the latents (and the networks if ``train_networks``)
    toward the residual ``target`` (H, W, 3) at rate weight ``lmbda``; ``hard``: latents
    rounded and fixed while the networks adapt. Returns latents, networks and the optimiser
    state (pass it back to continue with the same moments)."""
    params, static = eqx.partition(net, eqx.is_inexact_array)
    if state is None:
        state = _ADAM.init((latents, params))
    rows = jnp.asarray(per_step(np.asarray(rates), settings), jnp.float32)
    latent_lr = 0.0 if hard else settings.latent_lr_fraction
    latents, params, state = _steps(latents, params, state, static, target, key, jnp.float32(lmbda), rows,
                                    train_networks, hard, step, latent_lr)
    return latents, eqx.combine(params, static), state


def _loss(latents, params, static, target, lmbda, key, temperature, noise_shape, hard: bool, step: float):
    model = eqx.combine(params, static)
    shape = target.shape[:-1]
    keys = jax.random.split(key, len(latents))
    seen = [quantized_latents(y / step, k, hard, temperature, noise_shape) for y, k in zip(latents, keys)]
    bits = sum(latent_bits(model, q) for q in seen)
    mse = jnp.mean((residual(model, [step * q for q in seen], shape) - target) ** 2)
    return mse + lmbda * bits / math.prod(shape), (mse, bits)


def sparse_prior(net):
    """The networks with the ARM's biases set so that an all-zero context predicts mean 0 at
    the smallest scale: zero latents, a frame that adds nothing, then cost almost nothing. The
    fit holds them there (:func:`_held_biases`). Left free, the first P frame's fit (whose
    residual corrects the I frame everywhere) learns a broad scale for zeros, and every later
    frame then finds dense latents cheaper than none."""
    biases = [jnp.zeros_like(b) for b in net.arm_biases[:-1]] + [jnp.asarray([0.0, LOG_SCALE_MIN])]
    return eqx.tree_at(lambda n: n.arm_biases, net, biases)


def _held_biases(latent_grads, net_grads):
    """Gradients with the ARM's biases held where :func:`sparse_prior` put them."""
    held = [jnp.zeros_like(b) for b in net_grads.arm_biases]
    return latent_grads, eqx.tree_at(lambda g: g.arm_biases, net_grads, held)


def residual(net, grids, shape) -> jax.Array:
    """The synthesis of ``grids`` less its output for zero latents: a frame whose latents are
    all zero adds nothing to its prediction, whatever the shared networks' biases."""
    return net.synthesize(grids, shape) - net.synthesize([jnp.zeros_like(g) for g in grids], shape)


@eqx.filter_jit
def _steps(latents, params, state, static, target, key, lmbda, rows, train_networks: bool, hard: bool, step: float,
           latent_lr: float):
    grad = jax.value_and_grad(_loss, argnums=(0, 1) if train_networks else 0, has_aux=True)

    def one_step(carry, xs):
        lat, p, s = carry
        k, (lr, temperature, noise_shape) = xs
        _, grads = grad(lat, p, static, target, lmbda, k, temperature, noise_shape, hard, step)
        grads = (_held_biases(grads[0], grads[1]) if train_networks
                 else (grads, jax.tree_util.tree_map(jnp.zeros_like, p)))
        (lat_direction, p_direction), s = _ADAM.update(grads, s, (lat, p))
        lat = [y - latent_lr * lr * d for y, d in zip(lat, lat_direction)]
        if train_networks:
            p = jax.tree_util.tree_map(lambda w, d: w - lr * d, p, p_direction)
        return (lat, p, s), None

    keys = jax.random.split(key, rows.shape[0])
    (latents, params, state), _ = jax.lax.scan(one_step, (latents, params, state), (keys, rows))
    return latents, params, state
