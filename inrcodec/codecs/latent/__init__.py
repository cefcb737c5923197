"""The latent-grid codec (architectures ``latentgrid`` for images, ``latentvideo`` for videos:
the same codec on 3-D grids; Cool-chic / C3 family).

Encoder: fit latent grids, a synthesis network and an autoregressive entropy model (ARM)
together (:mod:`.training`), then quantize the networks and range-code the latents with the
integer ARM's probabilities (:mod:`.packing`, :mod:`.stream`). Decoder: the integer ARM decodes
the latents wavefront by wavefront; the synthesis renders them at any resolution.
"""

from __future__ import annotations

import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from inrcodec import container, weights
from inrcodec.codecs.base import Codec, Encoded, Progress, check_finite, check_render, overhead_bits
from inrcodec.codecs.latent.packing import Packer
from inrcodec.codecs.latent.stream import LATENTS_HEADER_BYTES, decode_integer_parts, latent_range
from inrcodec.codecs.latent.tiling import render
from inrcodec.codecs.latent.training import Trainer, networks_for_budget, per_step
from inrcodec.compile_cache import releases_compiled_programs
from inrcodec.errors import ConfigError
from inrcodec.fit import schedule
from inrcodec.inr import ArchConfig
from inrcodec.inr.latentgrid import LatentGridConfig
from inrcodec.modalities import REGISTRY, Modality, write_signal_chunk
from inrcodec.rate import RateController
from inrcodec.signal import Signal


class LatentCodec(Codec):
    archs = ("latentgrid", "latentvideo")
    modalities = ("image", "video")
    chunks = ("latents",)

    def encode(self, signal: Signal, config, progress: Progress | None = None) -> Encoded:
        return encode_latent_signal(signal, config, progress)

    def decode(self, parsed: container.Container, modality: Modality, meta: dict[str, Any], arch: ArchConfig,
               scale: float, fps_scale: float) -> Signal:
        shape = modality.render_shape(meta, scale, fps_scale)
        values = decode_latent_signal(parsed, meta, arch, shape)
        return modality.from_values(values, meta, scale, fps_scale)

    def integers(self, parsed, modality, meta, arch) -> list[np.ndarray]:
        ints, _, latents = decode_integer_parts(parsed, meta, arch)
        return ints + latents

    def describe(self, parsed, modality, meta, arch) -> dict[str, Any]:
        """The networks' tensors and the latents' grids and range, without decoding the latents."""
        self.check_chunks(parsed)
        shapes = arch.grid_shapes(arch.signal_shape(meta))
        low, high = latent_range(parsed.latents, shapes)
        return {**super().describe(parsed, modality, meta, arch),
                "latents": {"grids": [list(s) for s in shapes], "count": int(sum(math.prod(s) for s in shapes)),
                            "min": low, "max": high, "step": arch.latent_step()}}


@releases_compiled_programs
def encode_latent_signal(signal: Signal, config, progress=None) -> Encoded:
    """Encode an image or a video with the latent-grid codec; with a rate target the file fits it."""
    start = time.perf_counter()
    modality = REGISTRY[signal.modality]
    settings = config.latent
    arch: LatentGridConfig = LATENT_CODEC.adapt(config.arch, signal, modality)
    arch.validate()
    meta = signal.meta
    shape = signal.data.shape[:-1]
    _, peak = modality.search_target(signal)
    target = jnp.asarray(signal.data.astype(np.float32) / peak - 0.5)
    signal_chunk = write_signal_chunk(modality, meta)
    budget = modality.budget_bits(config.rate.target, meta) if config.rate.target > 0 else None
    if budget is not None:
        arch = networks_for_budget(arch, budget, settings)
    pixels = math.prod(shape)
    overhead = overhead_bits(signal_chunk, arch) + 8.0 * LATENTS_HEADER_BYTES
    latent_target = None
    if budget is not None:
        spare = budget - overhead - settings.network_bits_per_param * arch.param_count()
        if spare <= 0.02 * budget:
            needed = (budget - spare) / 8
            raise ConfigError(f"rate target too low for this {signal.modality}: even the smallest networks and "
                              f"headers take about {needed:.0f} bytes ({8 * needed / pixels:.3g} bpp); use a target of at least "
                              f"{16 * needed / pixels:.2g} bpp")
        latent_target = settings.latent_share * spare / pixels

    init_key, fit_key = jax.random.split(jax.random.PRNGKey(config.seed))
    net = arch.build(init_key)
    latents = [jnp.zeros(s) for s in arch.grid_shapes(shape)]
    lmbda = config.fit.lmbda
    if latent_target is not None:
        lmbda = settings.lambda_at_reference * (settings.reference_bpp / latent_target) ** (1.0 / settings.rate_exponent)
    controller = RateController(lmbda, latent_target, gain=settings.controller_gain,
                                max_factor=settings.controller_max_rise, max_fall=settings.controller_max_fall,
                                lookahead=settings.controller_lookahead)
    fit_cfg = config.fit
    hard_steps = int(round(fit_cfg.steps * fit_cfg.qat_fraction))
    trainer = Trainer(target, arch.latent_step(), controller, fit_cfg, settings, fit_key, progress)
    rates = np.asarray(schedule(fit_cfg, fit_cfg.steps)(np.arange(fit_cfg.steps)))
    soft_steps = fit_cfg.steps - hard_steps
    latents, net = trainer.run(latents, net, per_step(rates[:soft_steps], settings), False, "fit")
    latents, net = trainer.run(latents, net, per_step(rates[soft_steps:], settings), True, "quantize")

    packer = Packer(arch, signal, modality, signal_chunk, budget, overhead, config)
    blob, psnr = packer.pack(net, latents)
    return Encoded(blob, arch, psnr, time.perf_counter() - start, 1)


def decode_latent_signal(parsed: container.Container, meta: dict[str, Any], arch: LatentGridConfig,
                         render_shape: tuple[int, ...]) -> np.ndarray:
    """(pixels, channels) network outputs of a latent-grid file, rendered on a grid of
    ``render_shape`` pixels (the coded shape, or another: the grids are resampled to it)."""
    pixels = math.prod(render_shape)
    # the work is bounded by the coded size (decode_integer_parts)
    check_render(pixels, 0, rescaled=tuple(render_shape) != tuple(arch.signal_shape(meta)))
    ints, codes, latents = decode_integer_parts(parsed, meta, arch)
    net = weights.from_ints(arch, ints, codes)
    values = render(net, latents, arch.latent_step(), tuple(render_shape), arch.convs)
    return check_finite(values).reshape(pixels, -1)


LATENT_CODEC = LatentCodec()
