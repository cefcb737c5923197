"""The file of fitted latent grids and networks: the ARM's power-of-two steps by total coded
size, the synthesis steps by a rate-quality search, and, over budget, latents pulled toward the
ARM's predictions until the file fits."""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from inrcodec import container, entropy, latent_arm, quantize, weights
from inrcodec.codecs.latent.stream import (
    arm_tensor_count,
    encode_latents,
    ideal_latent_bits,
    shifted,
)
from inrcodec.errors import ConfigError
from inrcodec.inr import write_arch
from inrcodec.inr.latentgrid import context_padding, upsample
from inrcodec.signal import Signal

# Over budget, latents are pulled toward their predicted means by a distance (in steps) found
# by bisection, up to this bound.
MAX_SHRINK, SHRINK_SEARCH_ROUNDS = 64.0, 8
# ARM weight steps 2^-2 .. 2^-12: one for all tensors by total coded size (weights + latents),
# then each tensor's moved by up to two octaves while the total falls.
ARM_FRAC_BITS = range(2, 13)
ARM_FRAC_MOVES, ARM_FRAC_ROUNDS = (-2, -1, 1, 2), 2
ARM_STEP_LATENTS = 1 << 19  # above this many latents (a full Kodak image has 524 256) the choice samples
# Rendering for the synthesis step search of a video: this many frames, spread over the clip.
SEARCH_FRAMES = 8


class Packer:
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
        arm = arm_steps(weights.leaves(net), ints, self.arch)
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
        fracs, arm_and_latent_bits = arm or arm_steps(leaves, ints, arch)
        frozen = {i: -8 * f for i, f in enumerate(fracs)}
        grids = [q * arch.latent_step() for q in ints]
        search = quantize.StepSearch(leaves, _synthesis_psnr(net, grids, self.signal, self.modality), frozen=frozen)
        groups = ["mlp"] * len(leaves)
        # The ARM's own bits are in search.bits (its frozen tensors); the latents' are fixed.
        fixed = self.overhead + arm_and_latent_bits - sum(search.tensor_bits(i, c) for i, c in frozen.items())
        # Within the budget the steps are still chosen by rate and quality: filling the file
        # buys almost nothing for many bytes (docs/latent-grid-codec.md).
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
                padded[shifted(positions, pad)] = np.round(shrunk)
            out.append(latent_arm.unpadded(padded, y.shape, pad))
        return out

    def bits(self, distance: float) -> float:
        """Ideal code length of the shrunk latents (not the rate)."""
        return ideal_latent_bits(self.arm_ints, self.fracs, self.latents(distance), self.arch)


def arm_steps(leaves, ints, arch) -> tuple[list[int], float]:
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
    search renders about 1800 times."""
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


def _pack(signal_chunk: bytes, arch, net, codes, latents) -> bytes:
    table, payload, ints = weights.encode(net, codes)
    n_arm = arm_tensor_count(arch)
    latents_chunk = encode_latents(ints[:n_arm], [-c // 8 for c in codes[:n_arm]], latents, arch)
    return container.pack(container.Container(signal_chunk, write_arch(arch), table, payload, latents=latents_chunk))


