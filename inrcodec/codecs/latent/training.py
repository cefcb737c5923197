"""Fitting the latent grids and the networks together (the latent-grid codec's encoder).

The loss is ``MSE + lambda * bits / pixels``, the bits being the float ARM's Laplace code length
of the latents: first with soft-rounded, noisy latents, then with the latents rounded and fixed
while the networks adapt to them. With a rate target a controller moves lambda so the latents
spend what the target leaves. The settings are the ``latent`` section of the config
(:class:`inrcodec.config.LatentConfig`).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from inrcodec.config import LatentConfig
from inrcodec.inr.latentgrid import LatentGridConfig, LatentGridNet, grid_contexts
from inrcodec.rate import RateController

MIN_LOG_PROBABILITY = -16 * math.log(2.0)  # the rate proxy never charges more than 16 bits a latent


def networks_for_budget(arch: LatentGridConfig, budget_bits: float, settings: LatentConfig) -> LatentGridConfig:
    """The preset's networks sized to the budget: a synthesis twice as wide where that costs at
    most ``wide_synthesis_share`` of it, smaller networks where the preset's estimated coded size
    would take more than ``network_share`` (small images at low targets: a 128x128 crop at 0.25
    bpp has 4096 bits, the preset's networks take about 4300)."""
    wide_share, share = settings.wide_synthesis_share, settings.network_share
    ladder = [  # (networks, the largest share of the budget they may take), first fit wins
        (arch.replace(synth_width=min(2 * arch.synth_width, LatentGridConfig.size_range[1])), wide_share),
        (arch, share),
        (arch.replace(arm_width=max(1, arch.arm_width // 2), synth_width=max(1, arch.synth_width // 2)), share),
        (arch.replace(arm_depth=0, synth_depth=0, convs=0), share),  # linear ARM and synthesis
    ]
    for candidate, most in ladder:
        if settings.network_bits_per_param * candidate.param_count() <= most * budget_bits:
            return candidate
    return ladder[-1][0]


class Trainer:
    """Adam on (latents, networks), one optimiser state for all phases (a fresh state would move
    every latent by a full learning rate per step, gradient or not), many steps per jitted call."""

    def __init__(self, target: jax.Array, step: float, controller: RateController, fit_cfg, settings: LatentConfig,
                 key: jax.Array, progress):
        self.target, self.step, self.controller, self.fit_cfg, self.key = target, step, controller, fit_cfg, key
        self.progress = progress
        self.latent_lr_fraction = settings.latent_lr_fraction
        # the controller waits this many steps
        self.control_from, self.steps_done = int(settings.control_start * fit_cfg.steps), 0
        self.initial_lmbda = controller.lmbda
        self.state = None

    def run(self, latents, net, per_step: np.ndarray, hard: bool, phase: str):
        """One step per row of ``per_step`` (learning rate, soft-rounding temperature, noise
        shape); ``hard``: the latents are rounded (and the last two columns unused)."""
        params, static = eqx.partition(net, eqx.is_inexact_array)
        trainable = (latents, params)
        if self.state is None:
            self.state = _ADAM.init(trainable)
        # Rounded, the latents stay where the noisy phase left them and the networks adapt to
        # them: moved under a straight-through gradient they drift off their modes.
        latent_lr = 0.0 if hard else self.latent_lr_fraction
        steps, done = len(per_step), 0
        while done < steps:
            rows = jnp.asarray(per_step[done : done + self.fit_cfg.steps_per_call], jnp.float32)
            self.key, sub = jax.random.split(self.key)
            trainable, self.state, mse, bits = _train_steps(trainable, self.state, self.target, sub,
                                                            self._loss_weights(), rows, static, hard, latent_lr,
                                                            self.step)
            done += len(rows)
            self.steps_done += len(rows)
            if self.steps_done >= self.control_from:
                self.controller.update(float(bits) / math.prod(self.target.shape[:-1]))
            if self.progress is not None:
                self.progress(phase, done, steps, float(mse))
        latents, params = trainable
        return latents, eqx.combine(params, static)

    def _loss_weights(self) -> jax.Array:
        """(lambda, loss scale): the loss is scaled by 1 / (1 + lambda / lambda_0), so its
        gradients keep their size while the controller moves lambda (Adam normalises by a slow
        running average: unscaled, a fast-growing lambda makes the latents jitter)."""
        lmbda = self.controller.lmbda
        return jnp.asarray([lmbda, 1.0 / (1.0 + lmbda / self.initial_lmbda)], jnp.float32)


_ADAM = optax.scale_by_adam(b1=0.9, b2=0.999)


def _loss(trainable, static, target, loss_weights, key, temperature, noise_shape, hard: bool, step: float):
    lat, p = trainable
    model = eqx.combine(p, static)
    shape = target.shape[:-1]
    keys = jax.random.split(key, len(lat))
    # Noisy or rounded latents, for the rate and the synthesis alike; rounded ones do not move
    # (the trainer's latent_lr), so the ARM learns the values it will code.
    seen = [quantized_latents(y / step, k, hard, temperature, noise_shape) for y, k in zip(lat, keys)]
    bits = sum(latent_bits(model, q) for q in seen)
    mse = jnp.mean((model.synthesize([step * q for q in seen], shape) - target) ** 2)
    lmbda, scale = loss_weights[0], loss_weights[1]
    return (mse + lmbda * bits / math.prod(shape)) * scale, (mse, bits)


@eqx.filter_jit
def _train_steps(trainable, state, target, key, loss_weights, rows, static, hard: bool, latent_lr: float, step: float):
    """``len(rows)`` Adam steps in one program. The signal is an argument, not a constant, so
    one compiled program (in memory and in the persistent cache) serves every signal of a size."""

    def one_step(carry, xs):
        t, s = carry
        k, (lr, temperature, noise_shape) = xs
        (_, aux), grads = jax.value_and_grad(_loss, has_aux=True)(t, static, target, loss_weights, k, temperature,
                                                                  noise_shape, hard, step)
        direction, s = _ADAM.update(grads, s, t)
        (lat, p), (lat_direction, p_direction) = t, direction
        lat = [y - latent_lr * lr * d for y, d in zip(lat, lat_direction)]
        p = jax.tree_util.tree_map(lambda w, d: w - lr * d, p, p_direction)
        return ((lat, p), s), aux

    keys = jax.random.split(key, rows.shape[0])
    (trainable, state), (mse, _) = jax.lax.scan(one_step, (trainable, state), (keys, rows))
    lat, p = trainable
    model = eqx.combine(p, static)
    bits = sum(latent_bits(model, jnp.round(y / step)) for y in lat)
    return trainable, state, mse[-1], bits


def per_step(rates: np.ndarray, settings: LatentConfig) -> np.ndarray:
    """(steps, 3) rows of learning rate, soft-rounding temperature and Kumaraswamy shape for one
    phase: the temperature and the noise's shape (from peaked toward uniform) anneal linearly
    between the settings' start and end values (C3, Kim et al. 2024)."""
    fraction = np.linspace(0.0, 1.0, len(rates))
    temperature = settings.soft_round_start + (settings.soft_round_end - settings.soft_round_start) * fraction
    shape = settings.noise_shape_start + (settings.noise_shape_end - settings.noise_shape_start) * fraction
    return np.stack([rates, temperature, shape], axis=1)


def soft_round(y: jax.Array, temperature) -> jax.Array:
    """Agustsson & Theis (2020): rounding as temperature -> 0, the identity as it grows."""
    centre = jnp.floor(y) + 0.5
    return centre + 0.5 * jnp.tanh((y - centre) / temperature) / jnp.tanh(0.5 / temperature)


def kumaraswamy_noise(key: jax.Array, shape, a) -> jax.Array:
    """Noise on (-1/2, 1/2) with its mode at 0: uniform for ``a = 1``, more peaked above."""
    b = (2.0**a * (a - 1.0) + 1.0) / a
    u = jax.random.uniform(key, shape, minval=1e-6, maxval=1.0 - 1e-6)
    return (1.0 - (1.0 - u) ** (1.0 / b)) ** (1.0 / a) - 0.5


def quantized_latents(y: jax.Array, key: jax.Array, hard: bool, temperature, noise_shape) -> jax.Array:
    """Latents (in steps) as the rate and the synthesis see them: rounded with a
    straight-through gradient (``hard``), else soft-rounded with annealed noise."""
    if hard:
        return y + jax.lax.stop_gradient(jnp.round(y) - y)
    noisy = soft_round(y, temperature) + kumaraswamy_noise(key, y.shape, noise_shape)
    return soft_round(noisy, temperature)


def latent_bits(net: LatentGridNet, grid: jax.Array) -> jax.Array:
    """Code length in bits of one latent grid (in integer units, rounded or noisy) under the
    float ARM: the Laplace's mass on the unit bin around each value (Ballé et al. 2018), the
    float twin of ``latent_arm.pmf_rows``."""
    mean, log_scale = net.arm(grid_contexts(grid, net.offsets))
    inverse = jnp.exp(-log_scale)
    low, high = grid - 0.5 - mean, grid + 0.5 - mean
    # Both bin edges on one side of the mean: 0.5 exp(-|nearest edge| / b) (1 - exp(-1 / b)).
    near = jnp.minimum(jnp.abs(low), jnp.abs(high))
    tail = math.log(0.5) - near * inverse + jnp.log(-jnp.expm1(-inverse))
    # (exponents capped at 0: outside the centre bin they overflow, and the unused branch of a
    # where() still carries gradients)
    centre = 1.0 - 0.5 * jnp.exp(jnp.minimum(low * inverse, 0.0)) - 0.5 * jnp.exp(jnp.minimum(-high * inverse, 0.0))
    centre = jnp.log(jnp.maximum(centre, 1e-12))
    log_p = jnp.where((low >= 0) | (high <= 0), tail, centre)
    return -jnp.sum(jnp.maximum(log_p, MIN_LOG_PROBABILITY)) / math.log(2.0)


