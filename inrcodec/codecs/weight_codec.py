"""The weight codec: one network (SIREN, hash grid) over all of a signal's samples, its weights
quantized and entropy-coded; decoding renders the network at every sample.

The encoder's stages, in order: size the network for the rate target, fit in float, search
quantization steps, quantization-aware fine-tune, code, and (with a target) make sure the real
file fits. Same-shaped signals go through the fits together, as one pack (``encode_signals``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from inrcodec import container, quantize, weights
from inrcodec.codecs import band_gains, noise_fill, stft
from inrcodec.codecs.base import Codec, Encoded, Progress, check_finite, check_render, overhead_bits
from inrcodec.compile_cache import releases_compiled_programs
from inrcodec.config import NOISE_CUTOFFS, NOISE_FRAMES, CodecConfig
from inrcodec.errors import ConfigError, FormatError
from inrcodec.fit import grid_rate, render_parts, schedule, stack, train, unstack
from inrcodec.inr import ArchConfig, write_arch
from inrcodec.modalities import REGISTRY, Modality, write_signal_chunk
from inrcodec.signal import Signal

# The step search renders the signal in chunks of this many samples (bounded memory).
SEARCH_CHUNK = 1 << 18


class WeightCodec(Codec):
    archs = ("siren", "hashgrid")
    modalities = ("image", "audio", "video")
    optional_chunks = ("noise", "gains")
    packable = True  # see encode_signals

    def encode(self, signal: Signal, config: CodecConfig, progress: Progress | None = None) -> Encoded:
        return encode_signal(signal, config, progress)

    def decode(self, parsed: container.Container, modality: Modality, meta: dict[str, Any], arch: ArchConfig,
               scale: float, fps_scale: float) -> Signal:
        """Render the network at every sample of the (rescaled) signal."""
        self.check_chunks(parsed)
        shape = modality.render_shape(meta, scale, fps_scale)
        check_render(math.prod(shape), arch.macs_per_sample(), rescaled=(scale, fps_scale) != (1.0, 1.0))
        noise, gains = self._noise(parsed, modality, meta, scale), self._gains(parsed, modality, meta)
        if scale != 1.0:  # gains correct the rendering at the file's own rate: elsewhere the network alone
            gains = None
        model = weights.decode(arch, parsed.tensors, parsed.payload)
        coords_at = functools.partial(modality.render_coords, meta, scale, fps_scale)
        if noise is None and gains is None:
            samples = render_parts(model, coords_at, math.prod(shape),
                                   lambda values: modality.output_values(check_finite(values), meta))
        else:  # gains and noise are shaped over the whole signal, so it is rendered whole first
            samples = render_parts(model, coords_at, math.prod(shape), lambda values: check_finite(values))
            if gains is not None:
                samples = band_gains.apply(samples, gains)
            if noise is not None:
                samples = noise_fill.fill(samples, noise)
            samples = modality.output_values(samples, meta)
        return modality.signal_of(samples, meta, scale, fps_scale)

    def integers(self, parsed: container.Container, modality: Modality, meta: dict[str, Any],
                 arch: ArchConfig) -> list[np.ndarray]:
        """The network's integers, then the noise levels and the gain levels where the file has them."""
        noise, gains = self._noise(parsed, modality, meta, 1.0), self._gains(parsed, modality, meta)
        return (super().integers(parsed, modality, meta, arch) + ([] if noise is None else [noise.levels.reshape(-1)])
                + ([] if gains is None else [gains.levels.reshape(-1)]))

    @staticmethod
    def _noise(parsed: container.Container, modality: Modality, meta: dict[str, Any],
               scale: float) -> noise_fill.NoiseBands | None:
        if parsed.noise is None:
            return None
        if not modality.spectral_side_info:
            raise FormatError(f"unexpected noise chunk in a {modality.name} file")
        if scale != 1.0:
            raise ConfigError("this audio file fills its top band with noise at its own sample rate; decode it "
                              "without --scale")
        return noise_fill.read(parsed.noise, meta["frames"], meta["channels"], channel_prediction=parsed.version >= (1, 8))

    @staticmethod
    def _gains(parsed: container.Container, modality: Modality, meta: dict[str, Any]) -> band_gains.BandGains | None:
        if parsed.gains is None:
            return None
        if not modality.spectral_side_info:
            raise FormatError(f"unexpected gains chunk in a {modality.name} file")
        return band_gains.read(parsed.gains, meta["frames"], meta["channels"], meta["sample_rate"])


@releases_compiled_programs
def encode_signal(signal: Signal, config: CodecConfig, progress: Progress | None = None) -> Encoded:
    """Encode ``signal`` under ``config``; with a rate target the file is at most that size."""
    return _encode_all([signal], config, progress)[0]


@releases_compiled_programs
def encode_signals(signals: Sequence[Signal], config: CodecConfig, progress: Progress | None = None) -> list[Encoded]:
    """Encode many signals of one modality under one ``config``, one file each, in order.

    Signals with the same sample layout (same coordinates and channels) are fitted as one pack
    in one jitted program (``fit.train``): for many small signals this is several times the
    throughput of fitting them one by one, and each file is what ``encode_signal`` makes of its
    signal up to float rounding. Each file keeps its own rate target.
    """
    return _encode_all(list(signals), config, progress)


def _encode_all(signals: list[Signal], config: CodecConfig, progress: Progress | None) -> list[Encoded]:
    results: list[Encoded | None] = [None] * len(signals)
    for members, coords, targets in _layouts(signals):
        encoded = _encode_layout([signals[i] for i in members], coords, targets, config, progress)
        for i, file in zip(members, encoded):
            results[i] = file
    return results


def _layouts(signals: list[Signal]) -> list[tuple[list[int], np.ndarray, list[np.ndarray]]]:
    """Groups of signals that share coordinates and channels: their indices, the coordinates,
    and each signal's targets."""
    groups: list[tuple[list[int], np.ndarray, list[np.ndarray]]] = []
    for i, signal in enumerate(signals):
        coords, targets = REGISTRY[signal.modality].samples(signal)
        for members, shared, group_targets in groups:
            if (signals[members[0]].modality == signal.modality and group_targets[0].shape == targets.shape
                    and np.array_equal(shared, coords)):
                members.append(i)
                group_targets.append(targets)
                break
        else:
            groups.append(([i], coords, [targets]))
    return groups


def _encode_layout(signals: list[Signal], coords_np: np.ndarray, targets: list[np.ndarray], config: CodecConfig,
                   progress) -> list[Encoded]:
    """Encode signals that share ``coords_np``: fit as packs of those whose networks and budgets
    are the same, and retry (``rate.max_attempts``) each that missed its target with a resized network."""
    modality = REGISTRY[signals[0].modality]
    coords = jnp.asarray(coords_np)
    signals, targets = list(signals), list(targets)
    archs = [WEIGHT_CODEC.adapt(config.arch, signal, modality) for signal in signals]
    chunks = [write_signal_chunk(modality, signal.meta) for signal in signals]
    budgets = [modality.budget_bits(config.rate.target, signal.meta) if config.rate.target > 0 else None
               for signal in signals]
    noise = [_noise_bands(modality, signal, config) for signal in signals]
    noise_chunks = [None if bands is None else noise_fill.write(bands) for bands in noise]
    finishers = [_gains_finisher(modality, signal, bands, _overhead(chunk, noise_chunk, arch), config, budget)
                 for signal, bands, chunk, noise_chunk, arch, budget
                 in zip(signals, noise, chunks, noise_chunks, archs, budgets)]
    reserves = [0.0 if finish is None else finish.reserve_bits for finish in finishers]
    for i, bands in enumerate(noise):
        if bands is not None:  # the network codes what is below the noise, in what the noise leaves
            targets[i] = noise_fill.lowpass(targets[i], bands).astype(np.float32)
            signals[i] = Signal(signals[i].modality, targets[i], signals[i].meta)
            if getattr(config.arch, "max_res", None) == 0:  # no finer cells than the coded band needs
                coded = bands.first_bin / (bands.frame // 2)
                archs[i] = archs[i].replace(max_res=max(archs[i].base_res, math.ceil(archs[i].max_res * coded)))
    for arch in set(archs):
        arch.validate()
    search_coords = _search_coords(coords_np)
    evaluators = [_distortion_evaluator(modality, signal, search_coords) for signal in signals]

    start = time.perf_counter()
    bits_per_param = [config.rate.bits_per_param] * len(signals)
    best: list[tuple[float, bytes, ArchConfig] | None] = [None] * len(signals)
    attempts = [0] * len(signals)
    pending = list(range(len(signals)))
    for _ in range(config.rate.max_attempts if config.rate.target > 0 else 1):
        packs: dict[tuple[ArchConfig, float | None], list[int]] = {}
        for i in pending:
            attempts[i] += 1
            sized = _sized(archs[i], budgets[i], _overhead(chunks[i], noise_chunks[i], archs[i], reserves[i]),
                           bits_per_param[i])
            packs.setdefault((sized, budgets[i]), []).append(i)
        pending = []
        for (sized, budget), members in packs.items():
            key = jax.random.PRNGKey(config.seed)
            pack_targets = np.stack([targets[i] for i in members])
            loss_weights = modality.loss_weights(pack_targets, signals[members[0]].meta, config.fit.loudness_weighting)
            fitted = _fit_pack(sized, coords, jnp.asarray(pack_targets), loss_weights, [chunks[i] for i in members],
                               [noise_chunks[i] for i in members], [reserves[i] for i in members],
                               [finishers[i] for i in members], config, key, [evaluators[i] for i in members], budget,
                               progress)
            for i, (blob, psnr) in zip(members, fitted):
                if best[i] is None or (psnr > best[i][0] and (budget is None or len(blob) * 8 <= budget)):
                    best[i] = (psnr, blob, sized)
                if budget is not None and not 0.9 * budget <= len(blob) * 8 <= budget:
                    # Resize from the bits per parameter this signal actually needed.
                    spent = len(blob) * 8 - _overhead(chunks[i], noise_chunks[i], sized, reserves[i])
                    bits_per_param[i] = max(spent / sized.param_count(), 0.25)
                    pending.append(i)
        if not pending:
            break
    seconds = time.perf_counter() - start  # shared evenly: the signals were fitted together
    return [Encoded(blob, sized, psnr, seconds / len(signals), tries)
            for (psnr, blob, sized), tries in zip(best, attempts)]


def _overhead(signal_chunk: bytes, noise_chunk: bytes | None, arch: ArchConfig, reserve: float = 0.0) -> float:
    """Bits of the file besides the network's integers: headers, tables, the noise chunk, and
    ``reserve`` bits set aside for the gains chunk."""
    return overhead_bits(signal_chunk, arch) + (0 if noise_chunk is None else 8 * (len(noise_chunk) + 4)) + reserve


def _sized(arch: ArchConfig, budget: float | None, overhead: float, bits_per_param: float) -> ArchConfig:
    """The network for a budget: as many parameters as it pays for at ``bits_per_param``
    beside ``overhead`` bits of the rest of the file."""
    if budget is None:
        return arch
    if budget <= overhead:
        raise ConfigError(f"rate target too low: the headers alone take {overhead / 8:.0f} bytes")
    return arch.resized(max(int((budget - overhead) / bits_per_param), 1))


def _fit_pack(arch, coords, targets, loss_weights, signal_chunks, noise_chunks, reserves, finishers, config, key,
              evaluators, budget, progress):
    """Fit, search steps, fine-tune and code a pack of signals (targets (P, N, C)) that share
    ``coords``, a network size and a budget; one (file, PSNR) per signal."""
    fit_cfg = config.fit
    count = targets.shape[0]
    init_key, fit_key, qat_key = jax.random.split(key, 3)
    model = arch.build(init_key)
    groups = weights.leaf_groups(model)
    qat_steps = int(round(fit_cfg.steps * fit_cfg.qat_fraction))
    float_steps = fit_cfg.steps - qat_steps
    fixed_bits = [_overhead(chunk, noise, arch, reserve)
                  for chunk, noise, reserve in zip(signal_chunks, noise_chunks, reserves)]
    rate = grid_rate(model, groups, fit_cfg, budget, fixed_bits, coords.shape[0])
    report = (lambda phase: (lambda d, t, l: progress(phase, d, t, l))) if progress else (lambda phase: None)
    common = dict(batch_size=fit_cfg.batch_size, steps_per_call=fit_cfg.steps_per_call, rate=rate,
                  sample_weights=None if loss_weights is None else jnp.asarray(loss_weights))
    # Every signal starts from the same network, as a fit of one does.
    models = train(stack([model] * count), coords, targets, steps=float_steps,
                   schedule=schedule(fit_cfg, float_steps), key=fit_key, progress=report("fit"), **common)

    # Grids keep the step they were trained at; the search picks the other steps.
    frozen = {i: fit_cfg.grid_step_code for i, g in enumerate(groups) if g == "grid"}
    fitted, all_codes = [], []
    for i, model in enumerate(unstack(models, count)):
        model = _make_room_for_mlp(model, groups, frozen, budget, fixed_bits[i])
        search = quantize.StepSearch(weights.leaves(model), functools.partial(evaluators[i], model), frozen=frozen)
        codes = list(search.search(groups, slope_db=config.quant.slope_db, fixed_bits=fixed_bits[i],
                                   target_bits=budget).codes)
        if qat_steps and rate is not None and budget is not None:
            # Rounded grids from here on, aiming at what the chosen MLP steps leave.
            mlp_bits = sum(search.tensor_bits(j, c) for j, c in enumerate(codes) if j not in frozen)
            rate.controllers[i].target = max(budget - fixed_bits[i] - mlp_bits, 0.05 * budget) / coords.shape[0]
        fitted.append(model)
        all_codes.append(codes)
    if qat_steps:
        if rate is not None:
            rate.hard = True
        steps_pack = stack([weights.with_leaves(m, [np.float32(0.0 if j in frozen else quantize.step_size(c))
                                                    for j, c in enumerate(codes)])
                            for m, codes in zip(fitted, all_codes)])
        lr = fit_cfg.lr * fit_cfg.qat_lr_fraction
        models = train(stack(fitted), coords, targets, steps=qat_steps, schedule=schedule(fit_cfg, qat_steps, lr=lr),
                       key=qat_key, quant_steps=steps_pack, progress=report("quantize"), **common)
        fitted = unstack(models, count)
    model_chunk = write_arch(arch)
    coded = []
    for model, codes, chunk, noise, bits, evaluate, finish in zip(fitted, all_codes, signal_chunks, noise_chunks,
                                                                   fixed_bits, evaluators, finishers):
        code = functools.partial(_code, model, codes, (chunk, model_chunk, noise), groups, frozen,
                                 fixed_bits=bits, evaluate=evaluate, config=config)
        blob, psnr = code(budget)
        coded.append((blob, psnr) if finish is None else finish(blob, psnr, arch, code))
    return coded


def _code(model, codes, header_chunks, groups, frozen, budget, *, fixed_bits, evaluate, config):
    """The file of one fitted network, within its budget; with the PSNR of what it decodes to
    (below the noise fill, where there is one). ``header_chunks``: signal, model and noise chunks."""
    blob = _pack(*header_chunks, model, codes)
    if budget is not None and len(blob) * 8 > budget:
        # Fine-tuning moved the weights: search the free steps again under the real budget.
        search = quantize.StepSearch(weights.leaves(model), functools.partial(evaluate, model), frozen=frozen)
        slack = len(blob) * 8 - search.bits(codes) - fixed_bits  # real vs ideal: coder and table overhead
        model = _make_room_for_mlp(model, groups, frozen, budget, fixed_bits + slack)
        search = quantize.StepSearch(weights.leaves(model), functools.partial(evaluate, model), frozen=frozen)
        codes = list(search.search(groups, slope_db=config.quant.slope_db, fixed_bits=fixed_bits + slack,
                                   target_bits=budget).codes)
        blob = _pack(*header_chunks, model, codes)
    while budget is not None and len(blob) * 8 > budget and min(codes) < quantize.MAX_CODE:
        codes = [min(c + 1, quantize.MAX_CODE) for c in codes]  # last resort: the target is a hard limit
        blob = _pack(*header_chunks, model, codes)
    dequantized = [quantize.dequantize(quantize.quantize(leaf, c), c) for leaf, c in zip(weights.leaves(model), codes)]
    return blob, evaluate(model, dequantized)


def _make_room_for_mlp(model, groups, frozen: dict[int, int], budget, fixed_bits, mlp_offset: int = -24):
    """Zero the grids' smallest entries (a growing dead zone) until the MLP fits beside them at
    moderate precision (steps of 1/8 of each tensor's spread).

    Without this a grid that overshot its rate would leave the MLP no bits, and the search
    would quantize the MLP to nothing: a blank output instead of a slightly coarser one.
    """
    if budget is None or not frozen:
        return model
    leaves = weights.leaves(model)
    floor = quantize.StepSearch(leaves, lambda _: 0.0, frozen=frozen).initial_codes(groups, {"mlp": mlp_offset})
    for dead_zone in range(0, 64):
        if quantize.StepSearch(leaves, lambda _: 0.0, frozen=frozen).bits(floor) + fixed_bits <= budget:
            break
        leaves = [
            np.where(np.abs(quantize.quantize(leaf, frozen[i])) <= dead_zone + 1, 0.0, leaf).astype(np.float32)
            if i in frozen else leaf
            for i, leaf in enumerate(leaves)
        ]
    return weights.with_leaves(model, leaves)


def _pack(signal_chunk: bytes, model_chunk: bytes, noise_chunk: bytes | None, model, codes) -> bytes:
    table, payload, _ = weights.encode(model, codes)
    return container.pack(container.Container(signal_chunk, model_chunk, table, payload, noise=noise_chunk))


def _noise_bands(modality: Modality, signal: Signal, config: CodecConfig) -> noise_fill.NoiseBands | None:
    """The noise fill of an audio signal at the configured (or the rate's) cutoff; None where
    the modality has none or the whole band is coded."""
    if not modality.spectral_side_info:
        return None
    meta, audio = signal.meta, config.audio
    per_channel = config.rate.target / meta["channels"] if config.rate.target > 0 else math.inf
    cutoff = audio.cutoff_hz
    if cutoff == 0:
        if config.rate.target <= 0:
            return None
        cutoff = next((hz for kbps, hz in NOISE_CUTOFFS if per_channel <= kbps), -1.0)
    group = audio.noise_frames or next((frames for kbps, frames in NOISE_FRAMES if per_channel <= kbps), 1)
    frame_log2 = stft.frame_log2_for(meta["sample_rate"])
    if (cutoff < 0 or cutoff >= meta["sample_rate"] / 2 or signal.data.shape[0] < (1 << frame_log2)
            or signal.data.size > stft.MAX_SAMPLES):
        return None
    return noise_fill.analyse(signal.data, meta["sample_rate"], cutoff, frame_log2, step_db=audio.noise_step_db,
                              band_erbs=audio.noise_band_erbs, group=group)


@dataclasses.dataclass(frozen=True)
class _GainsFinisher:
    """Adds the gains chunk to a coded audio file: renders the network as the decoder will and
    corrects its band energies toward ``original``'s below ``stop_bin``. Where the chunk does
    not fit beside the network, the network is coded again in what the chunk leaves (if the
    chunk takes at most ``band_gains.MAX_SHARE`` of what the headers and the noise chunk leave
    of the budget, ``free_bits``); where it still does not, the gains take coarser steps, or
    the file has none. The PSNR that goes with the file is the network's, before the gains."""

    original: np.ndarray
    meta: dict
    modality: Modality
    stop_bin: int | None
    step_db: float
    band_erbs: float
    budget: float | None
    free_bits: float | None
    reserve_bits: float

    def __call__(self, blob: bytes, psnr: float, arch: ArchConfig, code) -> tuple[bytes, float]:
        """The file and PSNR of ``blob`` (of the network ``arch``) with gains; ``code(budget)``
        codes the network again, as (file, PSNR), within ``budget`` bits."""
        with_gains, chunk_bits = self._with_gains(blob, arch, self.step_db)
        if self.budget is None or len(with_gains) * 8 <= self.budget:
            return with_gains, psnr
        if chunk_bits <= band_gains.MAX_SHARE * self.free_bits:
            smaller, smaller_psnr = code(self.budget - chunk_bits)
            with_gains, _ = self._with_gains(smaller, arch, self.step_db)
            if len(with_gains) * 8 <= self.budget:
                return with_gains, smaller_psnr
        coarser, _ = self._with_gains(blob, arch, 2 * self.step_db)
        return (coarser, psnr) if len(coarser) * 8 <= self.budget else (blob, psnr)

    def _with_gains(self, blob: bytes, arch: ArchConfig, step_db: float) -> tuple[bytes, int]:
        """``blob`` with the gains chunk of its network at ``step_db``, and the chunk's bits
        in the file (tag and length included)."""
        parsed = container.unpack(blob)
        model = weights.decode(arch, parsed.tensors, parsed.payload)
        coords_at = functools.partial(self.modality.render_coords, self.meta, 1.0, 1.0)
        rendered = render_parts(model, coords_at, self.original.shape[0], check_finite)
        gains = band_gains.analyse(self.original, rendered, self.meta["sample_rate"], self.stop_bin,
                                   step_db=step_db, band_erbs=self.band_erbs)
        coded = container.pack(dataclasses.replace(parsed, gains=band_gains.write(gains)))
        return coded, 8 * (len(coded) - len(blob))


def _gains_finisher(modality: Modality, signal: Signal, noise: noise_fill.NoiseBands | None, taken_bits: float,
                    config: CodecConfig, budget: float | None) -> _GainsFinisher | None:
    """The band gains of an audio signal, or None where the modality has none, they are off,
    the signal is too short or too long for them, or their reserve would take more than
    ``band_gains.MAX_SHARE`` of what the headers and the noise chunk (``taken_bits``) leave
    of the budget."""
    audio, meta = config.audio, signal.meta
    if not modality.spectral_side_info or audio.gain_step_db == 0:
        return None
    if signal.data.shape[0] < 1 << stft.frame_log2_for(meta["sample_rate"]) or signal.data.size > stft.MAX_SAMPLES:
        return None
    stop_bin = None if noise is None else noise.first_bin
    reserve = band_gains.reserve_bits(signal.data.shape[0], meta["channels"], meta["sample_rate"], stop_bin,
                                      audio.gain_band_erbs)
    free = None if budget is None else budget - taken_bits
    if free is not None and reserve > band_gains.MAX_SHARE * free:
        return None
    return _GainsFinisher(np.asarray(signal.data, np.float32), meta, modality, stop_bin, audio.gain_step_db,
                          audio.gain_band_erbs, budget, free, reserve)


@dataclasses.dataclass(frozen=True)
class _SearchCoords:
    """Coordinates padded to whole chunks of SEARCH_CHUNK samples, shared by every signal of a
    layout, and the mask of the real samples."""

    coords: jax.Array
    mask: jax.Array
    samples: int
    chunk: int


def _search_coords(coords: np.ndarray) -> _SearchCoords:
    n = coords.shape[0]
    size = min(n, SEARCH_CHUNK)
    pad = (-n) % size
    padded = jnp.asarray(np.concatenate([coords, np.zeros((pad, coords.shape[1]), coords.dtype)]))
    return _SearchCoords(padded, jnp.asarray(np.arange(n + pad) < n, jnp.float32)[:, None], n, size)


def _distortion_evaluator(modality, signal: Signal, grid: _SearchCoords):
    """``evaluate(model, leaves)``: the PSNR of the network with those leaves over every sample,
    rendered in chunks of SEARCH_CHUNK samples so memory does not grow with the signal."""
    reference, peak = modality.search_target(signal)
    coords, mask, n, size = grid.coords, grid.mask, grid.samples, grid.chunk
    pad = coords.shape[0] - n
    reference = jnp.asarray(np.concatenate([reference, np.zeros((pad, reference.shape[1]), reference.dtype)]))

    def evaluate(model, leaves) -> float:
        leaves = [jnp.asarray(x) for x in leaves]
        sse = sum(float(_chunk_error(modality, peak, model, leaves, coords[i : i + size], reference[i : i + size],
                                     mask[i : i + size]))
                  for i in range(0, n + pad, size))
        value = 10.0 * math.log10(peak**2 / max(sse / (n * reference.shape[1]), 1e-20)) if math.isfinite(sse) else -math.inf
        return value if math.isfinite(value) else -math.inf

    return evaluate


@eqx.filter_jit
def _chunk_error(modality, peak: float, model, leaves, x, y, m):
    """Squared error of the network with ``leaves`` on one chunk; compiled once per network
    shape, so every signal of a pack (and every segment) reuses it."""
    out = modality.search_output(weights.with_leaves(model, leaves)(x), peak)
    return jnp.sum(m * (out - y) ** 2)


WEIGHT_CODEC = WeightCodec()
