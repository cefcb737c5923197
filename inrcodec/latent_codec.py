"""Latent-grid coding of images (architecture ``latentgrid``; Cool-chic / C3 family) and of
videos (``latentvideo``: the same codec on 3-D grids).

Encoder: fit the latent grids, the synthesis network and the ARM together by minimising
``MSE + lambda * bits / pixels``, where the bits are the ARM's Laplace code length of the
latents: first with uniform noise in place of rounding, then with the latents rounded and
fixed while the networks adapt to them. With a rate target a controller moves lambda so the
latents spend what the target leaves. Then the ARM is quantised to the power-of-two steps that
minimise its own bits plus the latents' (under the exact integer ARM), the synthesis steps are
searched by rate and quality within the budget, and the latents are range-coded with the
integer ARM's probabilities.

Decoder: the integer ARM decodes the latents wavefront by wavefront; the synthesis renders them.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from inrcodec import container, entropy, latent_arm, quantize, weights
from inrcodec.bitstream import Reader, Writer
from inrcodec.compile_cache import releases_compiled_programs
from inrcodec.encoder import Encoded, overhead_bits
from inrcodec.errors import ConfigError, FormatError
from inrcodec.fit import schedule
from inrcodec.inr import write_arch
from inrcodec.inr.latentgrid import LatentGridConfig, LatentGridNet, context_padding, grid_contexts, upsample
from inrcodec.modalities.base import MAX_RENDER_MACS, MAX_RENDER_SAMPLES
from inrcodec.rate import RateController
from inrcodec.signal import Signal

# First guess of the coded size of a network weight, to leave room for the networks when the
# latents' rate is aimed at a target; the step search then spends what is really left.
NETWORK_BITS_PER_PARAM = 6.0
# The latents aim at this share of what the target leaves after the estimated networks: the
# rest absorbs the estimate's error (the synthesis steps are then searched to fit the file).
# Fine-tuning the latents again after an overshoot was tried and lost more than it saved.
LATENT_SHARE = 0.92
# On 256x256 crops at 0.25 bpp the preset's networks take about a quarter of the file, and
# narrower ones lost more on the latents than they saved (kodim03: 27.98 dB at 1562 bytes; ARM
# width 8: 27.89 dB at 1613). On a 128x128 crop at 0.25 bpp, networks planned at 36 % of the
# budget (ARM 6 wide, one layer; synthesis 4 wide; one convolution) gave 15.03 dB at 0.063 bpp,
# linear ones at 11 % gave 30.90 dB at 0.157 bpp.
NETWORK_SHARE = 1.0 / 3.0
# Where even a synthesis twice as wide takes at most this share of the budget, it is used: on
# 256x256 crops at 1 and 2 bpp a 32-wide synthesis (about 1000 bits more than 16 wide) gave
# kodim09 @ 2 bpp 41.46 dB vs 39.75, kodim03 @ 2 41.16 vs 39.65, kodim03 @ 1 37.61 vs 37.02,
# kodim01 @ 2 35.46 vs 35.62; at 0.5 bpp (16 % of the budget) kodim03 32.59 vs 32.67 and
# kodim09 34.51 vs 33.43. With a share of 1/8 (1 and 2 bpp only) the mean curve of all 24 crops
# rose from 33.48 to 33.76 dB at 1 bpp, 37.71 to 38.57 at 2; 1/5 takes in 0.5 bpp as well,
# whose 24-crop mean went from 0.448 bpp / 29.32 dB to 0.442 / 29.36.
WIDE_SYNTHESIS_SHARE = 1.0 / 5.0
LATENTS_HEADER_BYTES = 6  # the latents chunk's tag, length and alphabet
# Over budget, latents are pulled toward their predicted means by a distance (in steps) found
# by bisection, up to this bound. On the networks and latents of a kodim01 fit at --bpp 2 whose
# first file was 1.3 % over, this gave 32.9 dB where zeroing every latent of magnitude 1 had
# given 16.9 (the squeezed synthesis alone: 14.3; the unconstrained file: 36.3 dB).
MAX_SHRINK, SHRINK_SEARCH_ROUNDS = 64.0, 8
# ARM weight steps 2^-2 .. 2^-12: one for all tensors by total coded size (weights + latents),
# then each tensor's moved by up to two octaves while the total falls. On kodim03 at --bpp 0.25
# the per-tensor moves took 61 bytes off the 1289 of ARM and latents (ideal sizes; kodim10 at
# 0.25: 121 of 4429; kodim19 at 0.5: 3 of 3331).
ARM_FRAC_BITS = range(2, 13)
ARM_FRAC_MOVES, ARM_FRAC_ROUNDS = (-2, -1, 1, 2), 2
ARM_STEP_LATENTS = 1 << 19  # above this many latents (a full Kodak image has 524 256) the choice samples
# Rendering for the synthesis step search of a video: this many frames, spread over the clip.
SEARCH_FRAMES = 8
ROWS_PER_CALL = 1 << 12  # probability rows handed to the range coder at once (bounded memory)
# Lambda for a rate target. Measured on Kodak crops: lambda = 1e-3 gives about 0.44 bpp of
# latents after 2000 steps (0.46 and 0.43 on kodim03 and kodim23), and the rate falls about as
# lambda^-0.6 (0.23 and 0.25 at lambda = 3e-3). Images differ by 3x at one lambda, so the
# controller steers from 10 % of the steps on, by at most 1.5x per call: as the soft-rounding
# temperature falls the latents settle on their bins and the rate stops answering (started at
# 40 %, kodim05 at --bpp 0.5 stalled at 0.91 bpp of latents against 0.38 and the dead zone
# left 14 dB; from 10 % it reached 0.36 and 22.3 dB).
LAMBDA_AT_REFERENCE, REFERENCE_BPP, RATE_EXPONENT = 1e-3, 0.44, 0.6
CONTROL_START = 0.1
CONTROLLER_MAX_FACTOR = 1.5
# lambda falls by at most 1.2x per call: a rate that ends over its target is shrunk at packing
# and loses several dB, one that ends under it loses a little rate, so a falling rate (the ARM
# learning makes it drift down by itself) must not wind lambda down into a late overshoot. At
# --bpp 0.25 on 8 Kodak crops the mean PSNR gap to WebP at the same rate went from -2.99 to
# -2.35 dB (kodim10 from 26.01 to 30.93 dB); at --bpp 2 on 4 crops it went from +0.57 to +0.53.
CONTROLLER_MAX_FALL = 1.2
# The rate lags lambda by hundreds of steps, so the controller steers by the rate one call
# ahead on its trend, at full gain. With gain 0.5 and no look-ahead, kodim01 at --bpp 2 ended
# 11 % over its latent target (the file over budget); with these (and the loss scale of
# _Trainer._loss_weights) the PSNR gaps to WebP at the same rate on kodim03 @ 0.25, kodim05 @ 0.5,
# kodim19 @ 0.5 and kodim01 @ 2 went from -2.95, -1.66, -0.64 and 16.9 dB (over budget, dead
# zone) to -2.30, -1.19, -0.33 and +0.58 dB.
CONTROLLER_GAIN, CONTROLLER_LOOKAHEAD = 1.0, 1.0
# The latents move at half the networks' learning rate: on a Kodak crop at lambda = 1e-3 (2000
# steps) fractions 1, 0.5, 0.25, 0.1 gave 1.08, 0.79, 0.88, 0.65 bpp of latents at 34.0, 34.4,
# 33.4, 30.1 dB; a full rate makes them jitter by a third of a quantisation step per update.
LATENT_LR_FRACTION = 0.5
# The noisy phase: latents are soft-rounded, given Kumaraswamy noise and soft-rounded again,
# with the temperature and the noise's peak annealed toward rounding (C3, Kim et al. 2024).
# On kodim03 / kodim23 crops at lambda = 1e-3 (2000 steps) the PSNR gap to WebP at the same
# rate was -1.59 / -2.01 dB with plain uniform noise, -0.90 / -0.93 with temperatures
# 0.3 -> 0.1, -0.57 / -0.69 with 0.5 -> 0.05 and -0.63 / -0.83 with 0.5 -> 0.02.
SOFT_ROUND = (0.5, 0.05)
KUMARASWAMY = (2.0, 1.0)
MIN_LOG_PROBABILITY = -16 * math.log(2.0)  # the rate proxy never charges more than 16 bits a latent


@releases_compiled_programs
def encode_latent_signal(signal: Signal, config, progress=None) -> Encoded:
    """Encode an image or a video with the latent-grid codec; with a rate target the file fits it."""
    from inrcodec.modalities import REGISTRY, write_signal_chunk

    start = time.perf_counter()
    modality = REGISTRY[signal.modality]
    arch: LatentGridConfig = modality.adapt(config.arch, signal)
    arch.validate()
    meta = signal.meta
    shape = signal.data.shape[:-1]
    _, peak = modality.search_target(signal)
    target = jnp.asarray(signal.data.astype(np.float32) / peak - 0.5)
    signal_chunk = write_signal_chunk(modality, meta)
    budget = modality.budget_bits(config.rate.target, meta) if config.rate.target > 0 else None
    if budget is not None:
        arch = networks_for_budget(arch, budget)
    pixels = math.prod(shape)
    overhead = overhead_bits(signal_chunk, arch) + 8.0 * LATENTS_HEADER_BYTES
    latent_target = None
    if budget is not None:
        spare = budget - overhead - NETWORK_BITS_PER_PARAM * arch.param_count()
        if spare <= 0.02 * budget:
            needed = (budget - spare) / 8
            raise ConfigError(f"rate target too low for this {signal.modality}: even the smallest networks and "
                              f"headers take about {needed:.0f} bytes ({8 * needed / pixels:.3g} bpp); use a target of at least "
                              f"{16 * needed / pixels:.2g} bpp")
        latent_target = LATENT_SHARE * spare / pixels

    init_key, fit_key = jax.random.split(jax.random.PRNGKey(config.seed))
    net = arch.build(init_key)
    latents = [jnp.zeros(s) for s in arch.grid_shapes(shape)]
    lmbda = config.fit.lmbda
    if latent_target is not None:
        lmbda = LAMBDA_AT_REFERENCE * (REFERENCE_BPP / latent_target) ** (1.0 / RATE_EXPONENT)
    controller = RateController(lmbda, latent_target, gain=CONTROLLER_GAIN, max_factor=CONTROLLER_MAX_FACTOR,
                                max_fall=CONTROLLER_MAX_FALL, lookahead=CONTROLLER_LOOKAHEAD)
    fit_cfg = config.fit
    hard_steps = int(round(fit_cfg.steps * fit_cfg.qat_fraction))
    trainer = _Trainer(target, arch.latent_step(), controller, fit_cfg, fit_key, progress,
                       control_from=int(CONTROL_START * fit_cfg.steps))
    rates = np.asarray(schedule(fit_cfg, fit_cfg.steps)(np.arange(fit_cfg.steps)))
    soft_steps = fit_cfg.steps - hard_steps
    latents, net = trainer.run(latents, net, _per_step(rates[:soft_steps]), False, "fit")
    latents, net = trainer.run(latents, net, _per_step(rates[soft_steps:]), True, "quantise")

    packer = _Packer(arch, signal, modality, signal_chunk, budget, overhead, config)
    blob, psnr = packer.pack(net, latents)
    return Encoded(blob, arch, psnr, time.perf_counter() - start, 1)


def networks_for_budget(arch: LatentGridConfig, budget_bits: float) -> LatentGridConfig:
    """The preset's networks sized to the budget: a synthesis twice as wide where that costs at
    most WIDE_SYNTHESIS_SHARE of it, smaller networks where the preset's estimated coded size
    would take more than NETWORK_SHARE (small images at low targets: a 128x128 crop at 0.25 bpp
    has 4096 bits, the preset's networks take about 4300)."""
    ladder = [  # (networks, the largest share of the budget they may take), first fit wins
        (arch.replace(synth_width=min(2 * arch.synth_width, LatentGridConfig.size_range[1])), WIDE_SYNTHESIS_SHARE),
        (arch, NETWORK_SHARE),
        (arch.replace(arm_width=max(1, arch.arm_width // 2), synth_width=max(1, arch.synth_width // 2)), NETWORK_SHARE),
        (arch.replace(arm_depth=0, synth_depth=0, convs=0), NETWORK_SHARE),  # linear ARM and synthesis
    ]
    for candidate, share in ladder:
        if NETWORK_BITS_PER_PARAM * candidate.param_count() <= share * budget_bits:
            return candidate
    return ladder[-1][0]


class _Trainer:
    """Adam on (latents, networks), one optimiser state for all phases (a fresh state would move
    every latent by a full learning rate per step, gradient or not), many steps per jitted call."""

    def __init__(self, target: jax.Array, step: float, controller: RateController, fit_cfg, key: jax.Array, progress,
                 control_from: int = 0):
        self.target, self.step, self.controller, self.fit_cfg, self.key = target, step, controller, fit_cfg, key
        self.progress = progress
        self.control_from, self.steps_done = control_from, 0  # the controller waits this many steps
        self.initial_lmbda = controller.lmbda
        self.adam = optax.scale_by_adam(b1=0.9, b2=0.999)
        self.state = None
        self.compiled = {}

    def run(self, latents, net, per_step: np.ndarray, hard: bool, phase: str):
        """One step per row of ``per_step`` (learning rate, soft-rounding temperature, noise
        shape); ``hard``: the latents are rounded (and the last two columns unused)."""
        params, static = eqx.partition(net, eqx.is_inexact_array)
        trainable = (latents, params)
        if self.state is None:
            self.state = self.adam.init(trainable)
        if hard not in self.compiled:
            self.compiled[hard] = self._compile(static, hard)
        many = self.compiled[hard]
        steps, done = len(per_step), 0
        while done < steps:
            rows = jnp.asarray(per_step[done : done + self.fit_cfg.steps_per_call], jnp.float32)
            self.key, sub = jax.random.split(self.key)
            trainable, self.state, mse, bits = many(trainable, self.state, self.target, sub,
                                                    self._loss_weights(), rows)
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
        gradients keep their size while the controller moves lambda. Adam normalises by a
        slow running average: a lambda that grew 100x in 1000 steps (kodim03 at --bpp 0.25)
        made the updates grow with it, the latents jittered, the rate stayed put and then
        collapsed to half the target (5.8 dB behind WebP; 2.3 dB scaled)."""
        lmbda = self.controller.lmbda
        return jnp.asarray([lmbda, 1.0 / (1.0 + lmbda / self.initial_lmbda)], jnp.float32)

    def _compile(self, static, hard: bool):
        shape = self.target.shape[:-1]
        pixels, step, adam = math.prod(shape), self.step, self.adam
        # Rounded, the latents stay where the noisy phase left them and the networks adapt to
        # them: moved under a straight-through gradient they drift off their modes (the rate
        # of one fit rose from 0.38 to 0.73 bpp in 300 such steps).
        latent_lr = 0.0 if hard else LATENT_LR_FRACTION

        # The image is an argument, not a constant of the program: the persistent compilation
        # cache then serves every image of the same size.
        def loss_fn(trainable, target, loss_weights, key, temperature, noise_shape):
            lat, p = trainable
            model = eqx.combine(p, static)
            keys = jax.random.split(key, len(lat))
            # Noisy or rounded latents, for the rate and the synthesis alike; rounded ones do not
            # move (see latent_lr), so the ARM learns the values it will code.
            seen = [_quantise(y / step, k, hard, temperature, noise_shape) for y, k in zip(lat, keys)]
            bits = sum(latent_bits(model, q) for q in seen)
            mse = jnp.mean((model.synthesize([step * q for q in seen], shape) - target) ** 2)
            lmbda, scale = loss_weights[0], loss_weights[1]
            return (mse + lmbda * bits / pixels) * scale, (mse, bits)

        @eqx.filter_jit
        def many(trainable, state, target, key, loss_weights, rows):
            def one_step(carry, xs):
                t, s = carry
                k, (lr, temperature, noise_shape) = xs
                (_, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(t, target, loss_weights, k, temperature, noise_shape)
                direction, s = adam.update(grads, s, t)
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

        return many


def _per_step(rates: np.ndarray) -> np.ndarray:
    """(steps, 3) rows of learning rate, soft-rounding temperature and Kumaraswamy shape for one
    phase: the temperature falls from SOFT_ROUND[0] to SOFT_ROUND[1] and the noise from
    KUMARASWAMY[0] (peaked) to KUMARASWAMY[1] (uniform) (C3, Kim et al. 2024)."""
    fraction = np.linspace(0.0, 1.0, len(rates))
    temperature = SOFT_ROUND[0] + (SOFT_ROUND[1] - SOFT_ROUND[0]) * fraction
    shape = KUMARASWAMY[0] + (KUMARASWAMY[1] - KUMARASWAMY[0]) * fraction
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


def _quantise(y: jax.Array, key: jax.Array, hard: bool, temperature, noise_shape) -> jax.Array:
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


def arm_tensor_count(arch: LatentGridConfig) -> int:
    """The ARM's weights, biases and linear path come first among the network's leaves."""
    return 2 * (arch.arm_depth + 1) + 1


class _Packer:
    """Integer latents, the ARM's step by total size, the synthesis steps by search: the file."""

    def __init__(self, arch, signal, modality, signal_chunk, budget, overhead, config):
        self.arch, self.signal, self.modality, self.signal_chunk = arch, signal, modality, signal_chunk
        self.budget, self.overhead, self.slope_db = budget, overhead, config.quant.slope_db

    def pack(self, net, latents) -> tuple[bytes, float]:
        """The file and its PSNR: the best synthesis steps within the budget (if any). Latents
        that leave the networks less than their unconstrained share are pulled toward the ARM's
        predictions, and the better of that and a squeezed synthesis is kept, so an overshoot
        costs some precision, not the picture."""
        scaled = [np.asarray(y, np.float64) / self.arch.latent_step() for y in latents]
        ints = [np.round(y).astype(np.int64) for y in scaled]
        if max(int(np.abs(q).max(initial=0)) for q in ints) > latent_arm.MAX_LATENT:
            raise ConfigError("latents grew beyond the format's range; lower fit.lr")
        arm = _arm_steps(weights.leaves(net), ints, self.arch)
        blob, psnr = self._pack_latents(net, ints, arm)
        if self.budget is None:
            return blob, psnr
        best = (blob, psnr) if len(blob) * 8 <= self.budget else None
        shrink = _Shrinker(net, scaled, ints, self.arch, arm[0])
        distance = self._distance_leaving_networks_room(net, shrink)
        if distance == 0.0 and best is not None:
            return best
        # Past the estimate the latents lose precision, short of it the synthesis does: from a
        # little short, keep the best file until the PSNR starts falling.
        distance *= 0.75
        while distance <= MAX_SHRINK:
            blob, psnr = self._pack_latents(net, shrink.latents(distance))
            if len(blob) * 8 <= self.budget:
                if best is not None and psnr < best[1]:
                    break
                best = (blob, psnr)
            distance = 1.5 * distance + 1.0 / 64
        if best is None:
            raise ConfigError(f"could not reach the rate target: the smallest file reached takes {len(blob)} bytes "
                              f"({8 * len(blob) / ints[0].size:.3f} bpp); use a higher target")
        return best

    def _distance_leaving_networks_room(self, net, shrink: "_Shrinker") -> float:
        """The smallest shrink distance whose latents (ideal size) leave the networks the bits
        their unconstrained step search chose (0 if the rounded latents do)."""
        leaves = weights.leaves(net)
        frozen = {i: -8 * f for i, f in enumerate(shrink.fracs)}
        grids = [q * self.arch.latent_step() for q in shrink.ints]
        search = quantize.StepSearch(leaves, _synthesis_psnr(net, grids, self.signal, self.modality), frozen=frozen)
        rounded_bits = shrink.bits(0.0)
        natural = search.search(["mlp"] * len(leaves), slope_db=self.slope_db, fixed_bits=self.overhead + rounded_bits)
        room = self.budget - self.overhead - natural.bits  # for the latents
        if rounded_bits <= room:
            return 0.0
        high = 1.0
        while high < MAX_SHRINK and shrink.bits(high) > room:
            high *= 2.0
        low = 0.0 if high == 1.0 else high / 2.0
        for _ in range(SHRINK_SEARCH_ROUNDS):
            middle = 0.5 * (low + high)
            low, high = (low, middle) if shrink.bits(middle) <= room else (middle, high)
        return high

    def _pack_latents(self, net, ints, arm: tuple[list[int], float] | None = None) -> tuple[bytes, float]:
        """The file of these integer latents; ``arm``: their ARM steps and size, if known."""
        arch = self.arch
        leaves = weights.leaves(net)
        fracs, arm_and_latent_bits = arm or _arm_steps(leaves, ints, arch)
        frozen = {i: -8 * f for i, f in enumerate(fracs)}
        grids = [q * arch.latent_step() for q in ints]
        search = quantize.StepSearch(leaves, _synthesis_psnr(net, grids, self.signal, self.modality), frozen=frozen)
        groups = ["mlp"] * len(leaves)
        # The ARM's own bits are in search.bits (its frozen tensors); the latents' are fixed.
        fixed = self.overhead + arm_and_latent_bits - sum(search.tensor_bits(i, c) for i, c in frozen.items())
        # Within the budget the steps are still chosen by rate and quality: filling the file
        # instead gave kodim03 at --bpp 0.25 synthesis weights of 15 bits each, 1852 bytes at
        # 28.07 dB where these steps give 1674 bytes at 28.03 dB.
        choose = functools.partial(search.search, groups, slope_db=self.slope_db, target_bits=self.budget,
                                   fill_budget=False)
        codes = list(choose(fixed_bits=fixed).codes)
        blob = _pack(self.signal_chunk, arch, net, codes, ints)
        if self.budget is not None and len(blob) * 8 > self.budget:
            # Coder overheads the ideal sizes missed: search again with them counted.
            codes = list(choose(fixed_bits=len(blob) * 8 - search.bits(codes)).codes)
            blob = _pack(self.signal_chunk, arch, net, codes, ints)
        return blob, search.psnr(codes)


class _Shrinker:
    """Latents pulled toward the integer ARM's predicted means by a distance in steps, then
    rounded: a dead zone around each prediction rather than around zero (shrinking toward zero
    raised the rate: the ARM predicts most latents away from it). Latents are shrunk in coding
    order, each toward the mean predicted from its already-shrunk neighbours, so every one
    moves toward the prediction it will be coded with."""

    def __init__(self, net, scaled, ints, arch, fracs: list[int]):
        self.scaled, self.ints, self.arch, self.fracs = scaled, ints, arch, fracs
        self.arm_ints = [quantize.quantize(leaf, -8 * f) for leaf, f in zip(weights.leaves(net), fracs)]

    def latents(self, distance: float) -> list[np.ndarray]:
        """The integer grids shrunk by ``distance`` steps (0: the rounded latents)."""
        if distance == 0.0:
            return self.ints
        offsets = self.arch.offsets()
        pad = context_padding(offsets)
        out = []
        for y in self.scaled:
            padded = latent_arm.padded_grid(y.shape, pad)
            for positions in latent_arm.wavefronts(y.shape, offsets):
                context = latent_arm.contexts(padded, positions, offsets, pad)
                mean = latent_arm.integer_arm(self.arm_ints, self.fracs, context)[0] / (1 << latent_arm.MEAN_BITS)
                value = y[positions]
                shrunk = mean + np.sign(value - mean) * np.maximum(np.abs(value - mean) - distance, 0.0)
                padded[_shifted(positions, pad)] = np.round(shrunk)
            out.append(latent_arm.unpadded(padded, y.shape, pad))
        return out

    def bits(self, distance: float) -> float:
        """Ideal code length of the shrunk latents (not the rate)."""
        return ideal_latent_bits(self.arm_ints, self.fracs, self.latents(distance), self.arch)


def _arm_steps(leaves, ints, arch) -> tuple[list[int], float]:
    """The ARM tensors' steps 2^-frac that minimise their bits plus the latents' (and that sum,
    estimated from a sample of the latents on grids of more than ARM_STEP_LATENTS)."""
    n_arm = arm_tensor_count(arch)

    def total(fracs) -> float:
        arm_ints = [quantize.quantize(leaf, -8 * f) for leaf, f in zip(leaves, fracs)]
        if any(np.abs(t).max(initial=0) >= latent_arm.MAX_WEIGHT or np.ptp(t) >= entropy.MAX_ALPHABET
               for t in arm_ints):
            return math.inf  # out of the fixed-point range, or too wide for the weights' entropy coder
        return sum(entropy.fit_model(t)[1] for t in arm_ints) + ideal_latent_bits(arm_ints, fracs, ints, arch, stride)

    # Large grids are sampled (every stride-th latent, bits scaled up): one choice evaluates
    # the integer ARM over all latents about 40 times, 14 s on 12 frames of 176x144.
    stride = max(1, math.ceil(sum(q.size for q in ints) / ARM_STEP_LATENTS))
    best_bits, best = min((total([frac] * n_arm), [frac] * n_arm) for frac in ARM_FRAC_BITS)
    if not math.isfinite(best_bits):
        raise ConfigError("the entropy model's weights grew out of range; lower fit.lr")
    for _ in range(ARM_FRAC_ROUNDS):
        for i in range(n_arm):
            for move in ARM_FRAC_MOVES:
                trial = best[:i] + [best[i] + move] + best[i + 1 :]
                if trial[i] in ARM_FRAC_BITS and (bits := total(trial)) < best_bits:
                    best_bits, best = bits, trial
    return best, best_bits


def _synthesis_psnr(net, latents, signal: Signal, modality):
    """``psnr_of(leaves)``: PSNR of the signal the networks with those leaves render. For a
    video, of SEARCH_FRAMES frames spread over the clip, from latents upsampled once: the step
    search renders about 1800 times, and on 12 frames of 176x144 each render of the whole clip
    took 0.13 s (two other fits sharing the two cores)."""
    _, peak = modality.search_target(signal)
    reference = jnp.asarray(signal.data.astype(np.float32))
    grids = [jnp.asarray(y, jnp.float32) for y in latents]
    if reference.ndim == 4:
        frames = np.unique(np.linspace(0, reference.shape[0] - 1, SEARCH_FRAMES).round().astype(int))
        planes = _upsampled(grids, reference.shape[:-1])[frames]
        reference = reference[frames]

        def error(model):
            return _planes_error(model, planes, reference, peak)
    else:
        def error(model):
            return _synthesis_error(model, grids, reference, peak)

    def psnr_of(leaves) -> float:
        mse = float(error(weights.with_leaves(net, leaves)))
        return 10.0 * math.log10(peak**2 / max(mse, 1e-20)) if math.isfinite(mse) else -math.inf

    return psnr_of


@eqx.filter_jit
def _synthesis_error(net, grids, reference, peak):
    """Mean squared error of the rendered integer pixels (the signal and latents are arguments,
    so one program serves every signal of a size)."""
    out = net.synthesize(grids, reference.shape[:-1])
    return jnp.mean((jnp.clip(jnp.round((out + 0.5) * peak), 0.0, peak) - reference) ** 2)


@eqx.filter_jit
def _planes_error(net, planes, reference, peak):
    """``_synthesis_error`` from latents already upsampled."""
    out = net.synthesize_planes(planes)
    return jnp.mean((jnp.clip(jnp.round((out + 0.5) * peak), 0.0, peak) - reference) ** 2)


@functools.partial(jax.jit, static_argnums=1)
def _upsampled(grids, shape):
    return upsample(grids, shape)


def ideal_latent_bits(arm_ints, frac_bits, latents: list[np.ndarray], arch: LatentGridConfig, stride: int = 1) -> float:
    """Code length of the latents under the integer ARM (for choosing steps; not the rate);
    with ``stride`` > 1, of every stride-th latent in raster order, times ``stride``."""
    low, high = _alphabet(latents)
    if low == high:
        return 0.0
    total = 0.0
    for grid in latents:
        index = np.arange(0, grid.size, stride)
        means, scales = _grid_parameters(arm_ints, frac_bits, grid, arch, index)
        values = grid.reshape(-1)[index]
        for i in range(0, values.size, ROWS_PER_CALL):
            rows = latent_arm.pmf_rows(means[i : i + ROWS_PER_CALL], scales[i : i + ROWS_PER_CALL], low, high)
            chosen = rows[np.arange(len(rows)), values[i : i + ROWS_PER_CALL] - low]
            total += float(np.sum(np.log2(rows.sum(axis=1)) - np.log2(chosen)))
    return stride * total


def _grid_parameters(arm_ints, frac_bits, grid: np.ndarray, arch: LatentGridConfig, index: np.ndarray | None = None):
    """Quarter-step means and scale indices of the latents of a grid at raster ``index``
    (default: all of them, in raster order)."""
    offsets = arch.offsets()
    pad = context_padding(offsets)
    index = np.arange(grid.size) if index is None else index
    context = latent_arm.contexts(np.pad(grid, pad), np.unravel_index(index, grid.shape), offsets, pad)
    return latent_arm.integer_arm(arm_ints, frac_bits, context)


def _alphabet(latents: list[np.ndarray]) -> tuple[int, int]:
    return min(int(q.min()) for q in latents), max(int(q.max()) for q in latents)


def encode_latents(arm_ints, frac_bits, latents: list[np.ndarray], arch: LatentGridConfig) -> bytes:
    """The latents chunk: alphabet, then every grid range-coded wavefront by wavefront."""
    low, high = _alphabet(latents)
    w = Writer()
    w.svarint(low)
    w.uvarint(high - low)
    if low == high:
        return w.getvalue()
    coder = entropy.RowEncoder()
    offsets = arch.offsets()
    for grid in latents:
        means, scales = _grid_parameters(arm_ints, frac_bits, grid, arch)
        order = np.concatenate([np.ravel_multi_index(p, grid.shape) for p in latent_arm.wavefronts(grid.shape, offsets)])
        values = grid.reshape(-1)[order]
        for i in range(0, order.size, ROWS_PER_CALL):
            part = order[i : i + ROWS_PER_CALL]
            coder.encode(values[i : i + ROWS_PER_CALL] - low, latent_arm.pmf_rows(means[part], scales[part], low, high))
    return w.getvalue() + coder.finish()


def decode_latents(data: bytes, arm_ints, frac_bits, arch: LatentGridConfig, shape: tuple[int, ...],
                   trace: list | None = None) -> list[np.ndarray]:
    """Inverse of :func:`encode_latents`. ``trace`` (a list) collects each wavefront's
    (means, scales), to compare with what the encoder used."""
    r = Reader(data, what="latents chunk")
    low = r.svarint(limit=latent_arm.MAX_LATENT)
    high = low + r.uvarint(limit=2 * latent_arm.MAX_LATENT)
    if high > latent_arm.MAX_LATENT:
        raise FormatError(f"latent alphabet {low}..{high} out of range")
    shapes = arch.grid_shapes(shape)
    if low == high:
        r.expect_end()
        return [np.full(s, low, np.int64) for s in shapes]
    decoder = entropy.RowDecoder(r.raw(r.remaining()))
    offsets = arch.offsets()
    pad = context_padding(offsets)
    out = []
    for grid_shape in shapes:
        padded = latent_arm.padded_grid(grid_shape, pad)
        for positions in latent_arm.wavefronts(grid_shape, offsets):
            context = latent_arm.contexts(padded, positions, offsets, pad)
            means, scales = latent_arm.integer_arm(arm_ints, frac_bits, context)
            if trace is not None:
                trace.append((means, scales))
            for i in range(0, len(means), ROWS_PER_CALL):  # bounded memory on tall images
                part = slice(i, i + ROWS_PER_CALL)
                values = decoder.decode(latent_arm.pmf_rows(means[part], scales[part], low, high)) + low
                padded[_shifted(tuple(p[part] for p in positions), pad)] = values
        out.append(latent_arm.unpadded(padded, grid_shape, pad))
    return out


def _shifted(positions: tuple[np.ndarray, ...], pad) -> tuple[np.ndarray, ...]:
    """Grid positions as indices into the padded grid."""
    return tuple(p + before for p, (before, _) in zip(positions, pad))


def _pack(signal_chunk: bytes, arch, net, codes, latents) -> bytes:
    table, payload, ints = weights.encode(net, codes)
    n_arm = arm_tensor_count(arch)
    latents_chunk = encode_latents(ints[:n_arm], [-c // 8 for c in codes[:n_arm]], latents, arch)
    return container.pack(container.Container(signal_chunk, write_arch(arch), table, payload, latents=latents_chunk))


def arm_frac_bits(arch: LatentGridConfig, codes: list[int]) -> list[int]:
    """The ARM's power-of-two steps from the file's step codes (FormatError if not powers of two)."""
    codes = codes[: arm_tensor_count(arch)]
    if any(c % 8 or c > 0 for c in codes):
        raise FormatError("latent entropy model steps must be powers of two below 1")
    return [-c // 8 for c in codes]


def decode_integer_parts(parsed: container.Container, meta: dict[str, Any], arch: LatentGridConfig, trace=None):
    """The network's integer tensors and step codes, and the integer latent grids, of a file."""
    if parsed.latents is None:
        raise FormatError("latent-grid file without a latents chunk")
    if parsed.geometry is not None:
        raise FormatError("unexpected geometry chunk in a latent-grid file")
    shape = arch.signal_shape(meta)
    pixels = math.prod(shape)
    if pixels * arch.macs_per_sample() > MAX_RENDER_MACS:
        raise FormatError(f"decoding {pixels} pixels at {arch.macs_per_sample()} MACs each exceeds the "
                          f"decoder's limit of {MAX_RENDER_MACS} MACs")
    ints, codes = weights.decode_ints(arch, parsed.tensors, parsed.payload)
    fracs = arm_frac_bits(arch, codes)
    n_arm = arm_tensor_count(arch)
    latent_arm.check_tensors(ints[:n_arm], fracs)
    return ints, codes, decode_latents(parsed.latents, ints[:n_arm], fracs, arch, shape, trace)


def decode_latent_signal(parsed: container.Container, meta: dict[str, Any], arch: LatentGridConfig,
                         render_shape: tuple[int, ...]) -> np.ndarray:
    """(pixels, channels) network outputs of a latent-grid file, rendered on a grid of
    ``render_shape`` pixels (the coded shape, or another: the grids are resampled to it)."""
    pixels = math.prod(render_shape)
    if pixels > MAX_RENDER_SAMPLES:
        raise ConfigError(f"a render of {pixels} pixels exceeds the limit of {MAX_RENDER_SAMPLES}; "
                          "use a smaller --scale")
    ints, codes, latents = decode_integer_parts(parsed, meta, arch)
    net = weights.from_ints(arch, ints, codes)
    values = np.asarray(_render(net, [jnp.asarray(q * arch.latent_step(), jnp.float32) for q in latents],
                                tuple(render_shape)))
    if not np.all(np.isfinite(values)):
        raise FormatError("decoded network produced non-finite values; the file is corrupt")
    return values.reshape(pixels, -1)


@eqx.filter_jit
def _render(net, latents, shape):
    return net.synthesize(latents, shape)
