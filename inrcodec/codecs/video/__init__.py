"""The frame-by-frame video codec (architecture ``motionvideo``): I frames and motion-compensated
P frames (low delay: each P frame predicts from the previous decoded frame).

An I frame is an image file of the latent-grid codec. A P frame warps the previous decoded
frame along its motion vectors (:mod:`.motion`) and adds a residual rendered from its own
latent grids by a synthesis, the latents range-coded with an ARM; the synthesis and ARM are
fitted on the clip's first P frame and shared by all P frames (the file's tensor chunks), so a
P frame carries only its vectors and latents (:mod:`.frames`). The encoder reconstructs every
frame exactly as the decoder will (the same function on the same integers) and predicts from
that 8-bit frame, so errors do not build up along the clip.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from inrcodec import container, latent_arm, metrics, weights
from inrcodec.codecs.base import Codec, Encoded, Progress, check_finite, check_render
from inrcodec.codecs.latent import LATENT_CODEC, decode_latent_signal, encode_latent_signal
from inrcodec.codecs.latent.packing import arm_steps
from inrcodec.codecs.latent.stream import arm_frac_bits, arm_tensor_count, decode_latents, encode_latents
from inrcodec.codecs.video import frames as frame_records
from inrcodec.codecs.video import motion
from inrcodec.codecs.video.frames import INTRA, PREDICTED, Record
from inrcodec.codecs.video.residual import fit_residual, residual, sparse_prior
from inrcodec import config as config_module
from inrcodec.config import CodecConfig, RateConfig
from inrcodec.errors import ConfigError, FormatError
from inrcodec.fit import schedule
from inrcodec.inr import read_arch, write_arch
from inrcodec.inr.motionvideo import MotionVideoConfig
from inrcodec.modalities import REGISTRY, write_signal_chunk
from inrcodec.modalities.registry import read_signal_chunk
from inrcodec.signal import Signal

PEAK = 255.0
SYNTHESIS_STEP_CODE = -56  # the shared synthesis' weights at steps of 2^-7
# With a target, a P frame's residual outside AIM_LOW..AIM_HIGH times the frame's aim is fitted
# again (at most REFITS times) at lambda times (bits / aim)^REFIT_GAIN; after each frame lambda
# moves by (bits / aim)^STEER_GAIN; each move at most STEER_MOST either way.
AIM_LOW, AIM_HIGH, REFITS = 0.0, 4.0, 1
REFIT_GAIN, REFIT_MOST, STEER_GAIN, STEER_MOST = 1.0, 4.0, 0.25, 1.25
INTRA_RECORD_BYTES = 4  # an I frame's kind and length
SKIP_RECORD_BYTES = 3  # kind, length and flags of a P frame that repeats its reference
FRAME_CONTAINER_BYTES = 6 + 4 + 2 * 5  # magic and version, CRC, the frames chunk's tag and length


class MotionVideoCodec(Codec):
    archs = ("motionvideo",)
    modalities = ("video",)
    chunks = ("frames",)

    def encode(self, signal: Signal, config, progress: Progress | None = None) -> Encoded:
        return _Encoder(signal, config, progress).run()

    def decode(self, parsed, modality, meta, arch, scale, fps_scale) -> Signal:
        if scale != 1.0 or fps_scale != 1.0:
            raise ConfigError("a motionvideo file decodes at its coded size and frame rate; --scale and --fps-scale "
                              "need a whole-clip preset (fit with --config configs/video/hashgrid-cpu.yaml)")
        return Signal("video", decode_frames(parsed, meta, arch), dict(meta))

    def integers(self, parsed, modality, meta, arch) -> list[np.ndarray]:
        self.check_chunks(parsed)
        ints, codes = weights.decode_ints(arch, parsed.tensors, parsed.payload)
        out = list(ints)
        decoder = _FrameDecoder(arch, ints, codes, meta)
        for record in frame_records.decode(parsed.frames, meta["frames"]):
            if record.kind == INTRA:
                inner = container.unpack(record.image)
                image_meta = decoder.check_intra(inner)
                out += LATENT_CODEC.integers(inner, REGISTRY["image"], image_meta, read_arch(inner.model))
            else:
                out += decoder.integers(record)
        return out

    def describe(self, parsed, modality, meta, arch) -> dict[str, Any]:
        """The shared networks, and per frame its kind and the bytes of each part (without
        decoding any latents)."""
        out = super().describe(parsed, modality, meta, arch)
        rows = []
        for record in frame_records.decode(parsed.frames, meta["frames"]):
            total = record.size()
            if record.kind == INTRA:
                inner = container.unpack(record.image)
                parts = {"networks": len(inner.tensors) + len(inner.payload), "latents": len(inner.latents or b"")}
            else:
                parts = {"motion": len(record.motion or b""), "residual": len(record.residual or b"")}
            rows.append({"type": frame_records.KIND_NAMES[record.kind], "bytes": total, **parts,
                         "header": total - sum(parts.values())})
        out["shared_networks_bytes"] = len(parsed.tensors) + len(parsed.payload)
        out["frames"] = rows
        return out


def decode_frames(parsed: container.Container, meta: dict[str, Any], arch: MotionVideoConfig) -> np.ndarray:
    """(frames, height, width, 3) uint8 frames of a motionvideo file."""
    records = frame_records.decode(parsed.frames, meta["frames"])  # bounded by the chunk's bytes
    shape = (meta["frames"], meta["height"], meta["width"])
    check_render(math.prod(shape), arch.macs_per_sample())
    ints, codes = weights.decode_ints(arch, parsed.tensors, parsed.payload)
    decoder = _FrameDecoder(arch, ints, codes, meta)
    decoder.check_intra(container.unpack(records[0].image))  # the frame size, before allocating
    out = np.empty((*shape, 3), np.uint8)
    for t, record in enumerate(records):
        out[t] = decoder.intra(record.image) if record.kind == INTRA else decoder.predicted(record, out[t - 1])
    return out


class _FrameDecoder:
    """Frames from their records: the one path by which the encoder reconstructs too."""

    def __init__(self, arch: MotionVideoConfig, ints, codes, meta):
        self.arch, self.height, self.width = arch, meta["height"], meta["width"]
        self.net = weights.from_ints(arch, ints, codes)
        n_arm = arm_tensor_count(arch)
        self.arm_ints, self.fracs = ints[:n_arm], arm_frac_bits(arch, codes)
        latent_arm.check_tensors(self.arm_ints, self.fracs)

    def check_intra(self, inner: container.Container) -> dict[str, Any]:
        modality, meta = read_signal_chunk(inner.signal)
        if (modality.name != "image" or (meta["height"], meta["width"], meta["channels"], meta["bits"])
                != (self.height, self.width, 3, 8)):
            raise FormatError("an I frame is not an 8-bit RGB image of the video's size")
        if read_arch(inner.model).name != "latentgrid":
            raise FormatError("an I frame is not a latent-grid image")
        return meta

    def intra(self, image: bytes) -> np.ndarray:
        inner = container.unpack(image)
        meta = self.check_intra(inner)
        values = decode_latent_signal(inner, meta, read_arch(inner.model), (self.height, self.width))
        return REGISTRY["image"].from_values(values, meta, 1.0).data

    def integers(self, record: Record) -> list[np.ndarray]:
        out = []
        if record.motion is not None:
            out.append(motion.decode_vectors(record.motion, self.height, self.width)[0])
        if record.residual is not None:
            out += decode_latents(record.residual, self.arm_ints, self.fracs, self.arch, (self.height, self.width))
        return out

    def predicted(self, record: Record, reference: np.ndarray) -> np.ndarray:
        prediction = jnp.asarray(reference, jnp.float32)
        if record.motion is not None:
            vectors, block = motion.decode_vectors(record.motion, self.height, self.width)
            prediction = motion.predict(prediction, jnp.asarray(vectors, jnp.int32), block)
        if record.residual is not None:
            latents = decode_latents(record.residual, self.arm_ints, self.fracs, self.arch, (self.height, self.width))
            grids = [jnp.asarray(q * self.arch.latent_step(), jnp.float32) for q in latents]
            prediction = _add_residual(self.net, prediction, grids)
        frame = check_finite(np.asarray(prediction), "decoded frame")
        return np.clip(np.round(frame), 0, PEAK).astype(np.uint8)


@eqx.filter_jit
def _add_residual(net, prediction, grids):
    return prediction + PEAK * residual(net, grids, prediction.shape[:2])


class _Encoder:
    """Codes the frames in order, each against the previous reconstruction."""

    def __init__(self, signal: Signal, config: CodecConfig, progress: Progress | None):
        self.signal, self.config, self.progress = signal, config, progress
        self.settings = config.video
        modality = REGISTRY["video"]
        self.arch: MotionVideoConfig = MOTION_VIDEO_CODEC.adapt(config.arch, signal, modality)
        self.arch.validate()
        self.meta = signal.meta
        self.pixels = self.meta["height"] * self.meta["width"]
        self.signal_chunk = write_signal_chunk(modality, self.meta)
        self.budget = modality.budget_bits(config.rate.target, self.meta) if config.rate.target > 0 else None
        if self.budget is not None:
            self.arch = _networks_for_budget(self.arch, self.budget, self.settings.wide_synthesis_share,
                                             config.latent.network_bits_per_param)
        self.plan = _frame_plan(self.meta["frames"], self.settings.gop, self.settings.intra_share)
        self.key = jax.random.PRNGKey(config.seed)
        self.lmbda = self.settings.lmbda
        self.net = None  # the shared residual networks, once fitted (dequantized)
        self.net_chunks: tuple[bytes, bytes] | None = None
        self.decoder: _FrameDecoder | None = None
        self._first_latents: list[jax.Array] | None = None

    def run(self) -> Encoded:
        start = time.perf_counter()
        frames = self.signal.data
        records: list[Record] = []
        reconstructed: np.ndarray | None = None
        psnrs = []
        out = np.empty_like(frames)
        for t, frame in enumerate(frames):
            if self.plan[t][0] == INTRA:
                record, reconstructed = self._intra(frame, reconstructed, t, records)
            else:
                record, reconstructed = self._predicted(frame, reconstructed, t, records)
            records.append(record)
            out[t] = reconstructed
            psnrs.append(metrics.psnr(frame, reconstructed, PEAK))
            if self.progress is not None:
                self.progress("frames", t + 1, len(frames), float(np.mean((frame / PEAK - reconstructed / PEAK) ** 2)))
        blob = self._pack(records)  # api.within_target checks it against the target
        finite = [p for p in psnrs if math.isfinite(p)]
        psnr = float(np.mean(finite)) if len(finite) == len(psnrs) else math.inf
        return Encoded(blob, self.arch, psnr, time.perf_counter() - start, 1, reconstruction=out)

    # --- budget ---------------------------------------------------------------------------

    def _fixed_bytes(self) -> int:
        """Everything but the frame records: headers, CRC and the shared networks."""
        table, payload = self.net_chunks or _unused_networks(self.arch)
        chunks = [self.signal_chunk, write_arch(self.arch), table, payload]
        return FRAME_CONTAINER_BYTES + sum(1 + _varint_size(len(c)) + len(c) for c in chunks)

    def _allowance(self, t: int, records: list[Record], extra_fixed: int = 0) -> tuple[float | None, float | None]:
        """(the bits frame ``t`` aims at, the most it may take) with a budget, else (None, None).
        The most leaves every later frame room to repeat its reference."""
        if self.budget is None:
            return None, None
        used = 8 * (self._fixed_bytes() + extra_fixed + sum(r.size() for r in records))
        later = len(self.plan) - t - 1
        most = self.budget - used - 8 * SKIP_RECORD_BYTES * later
        planned_left = sum(share for _, share in self.plan[t:])
        aim = (self.budget - used) * self.plan[t][1] / planned_left
        return min(aim, most), most

    # --- I frames ---------------------------------------------------------------------------

    def _intra(self, frame: np.ndarray, reference: np.ndarray | None, t: int,
               records: list[Record]) -> tuple[Record, np.ndarray]:
        """The frame as an image file; past the first frame, a P frame where the budget has no
        room for one."""
        aim, most = self._allowance(t, records)
        image = Signal("image", frame, {"height": frame.shape[0], "width": frame.shape[1], "channels": 3, "bits": 8})
        # The first frame may take all the room the others leave if its share is too small
        # for an image (a short or tiny clip).
        aims = [aim] if reference is not None or most is None or most <= aim else [aim, most - 8 * INTRA_RECORD_BYTES]
        blob = None
        for bits in aims:
            try:
                blob = encode_latent_signal(image, _intra_config(self.config, bits, self.pixels)).blob
                break
            except ConfigError:
                continue
        if blob is None or (most is not None and 8 * (len(blob) + INTRA_RECORD_BYTES) > most):
            if reference is None:
                raise ConfigError("rate target too low for this video: its first frame alone needs more; "
                                  "use a higher target")
            return self._predicted(frame, reference, t, records)
        reconstructed = self._decoder().intra(blob)
        if t == 0 and self.budget is not None:
            # P frames start at the I frame's quality: lambda from its slope (error per bpp).
            bpp = 8 * len(blob) / self.pixels
            self.lmbda = self.settings.p_lambda_factor * float(np.mean((frame / PEAK - reconstructed / PEAK) ** 2)) / bpp
        return Record(INTRA, image=blob), reconstructed

    # --- P frames ---------------------------------------------------------------------------

    def _predicted(self, frame, reference, t, records) -> tuple[Record, np.ndarray]:
        """The P frame of least squared error plus lambda times bits among motion and
        residual, motion alone, and a repeat of the reference. With a target, a residual far
        from the frame's aim is fitted again at a lambda moved toward it."""
        motion_chunk, prediction = self._motion(frame, reference)
        target = (jnp.asarray(frame, jnp.float32) - prediction) / PEAK
        if self.net is None:
            self._fit_networks(target)
        aim, most = self._allowance(t, records)
        latents = self._start_latents(target)
        for _ in range(REFITS + 1):
            latents = self._fit_latents(target, latents, self.lmbda)
            residual_chunk = encode_latents(self.decoder.arm_ints, self.decoder.fracs, self._integers(latents), self.arch)
            full = Record(PREDICTED, motion=motion_chunk, residual=residual_chunk)
            if aim is None or AIM_LOW * aim <= 8 * full.size() <= AIM_HIGH * aim:
                break
            self._steer(8 * full.size(), aim, REFIT_GAIN, REFIT_MOST)
        candidates = []
        for record in (full, Record(PREDICTED, motion=motion_chunk), Record(PREDICTED)):
            bits = 8 * record.size()
            if most is None or bits <= most:
                out = self.decoder.predicted(record, reference)
                candidates.append((float(np.mean((out / PEAK - frame / PEAK) ** 2)), bits, record, out))
        if not candidates:
            raise ConfigError("rate target too low for this video; use a higher target")
        _, bits, record, out = min(candidates, key=lambda c: c[0] + self.lmbda * c[1] / self.pixels)
        if aim is not None:
            self._steer(bits, aim, STEER_GAIN)
        return record, out

    def _integers(self, latents) -> list[np.ndarray]:
        ints = [np.round(np.asarray(y) / self.arch.latent_step()).astype(np.int64) for y in latents]
        return [np.clip(q, -latent_arm.MAX_LATENT, latent_arm.MAX_LATENT) for q in ints]

    def _motion(self, frame: np.ndarray, reference: np.ndarray) -> tuple[bytes, jax.Array]:
        """The motion chunk and prediction of the block size that costs least in squared
        error plus lambda times bits."""
        s = self.settings
        ref = jnp.asarray(reference, jnp.float32)
        best = None
        block = s.motion_block_min
        while block <= s.motion_block_max:
            vectors = motion.block_match(reference, frame, block, s.motion_search)
            vectors = motion.refine(reference, frame, vectors, block, s.motion_refine_steps, s.motion_smoothness)
            chunk = motion.encode_vectors(vectors, block)
            prediction = motion.predict(ref, jnp.asarray(vectors, jnp.int32), block)
            error = float(jnp.mean((jnp.clip(jnp.round(prediction), 0, PEAK) / PEAK - frame / PEAK) ** 2))
            cost = error + self.lmbda * 8 * len(chunk) / self.pixels
            if best is None or cost < best[0]:
                best = (cost, chunk, prediction)
            block *= 2
        return best[1], best[2]

    def _steer(self, bits: float, aim: float, gain: float, most: float = STEER_MOST) -> None:
        """Lambda moved toward the one at which a frame spends ``aim`` bits; the next frame
        starts from it."""
        factor = (max(bits, 8.0) / max(aim, 8.0)) ** gain
        self.lmbda = float(np.clip(self.lmbda * np.clip(factor, 1 / most, most), 1e-7, 1e2))

    def _fit_networks(self, target) -> None:
        """The shared synthesis and ARM, fitted with the first P frame's latents (at no more
        than the untargeted P-frame lambda), then quantized."""
        s, fit = self.settings, self.config.fit
        lmbda = min(self.lmbda, s.lmbda)
        self.key, init_key, soft_key, hard_key = jax.random.split(self.key, 4)
        net = sparse_prior(self.arch.build(init_key))
        latents = [jnp.zeros(g) for g in self.arch.grid_shapes(target.shape[:2])]
        steps = s.first_residual_steps
        hard_steps = int(round(steps * fit.qat_fraction))
        rates = np.asarray(schedule(fit, steps)(np.arange(steps)))
        latents, net, state = fit_residual(net, latents, target, lmbda, rates[: steps - hard_steps],
                                           self.config.latent, soft_key, self.arch.latent_step(), True)
        if hard_steps:
            latents, net, _ = fit_residual(net, latents, target, lmbda, rates[steps - hard_steps :],
                                           self.config.latent, hard_key, self.arch.latent_step(), True, hard=True,
                                           state=state)
        ints = self._integers(latents)
        leaves = weights.leaves(net)
        fracs, _ = arm_steps(leaves, ints, self.arch)
        codes = [-8 * f for f in fracs] + [SYNTHESIS_STEP_CODE] * (len(leaves) - len(fracs))
        table, payload, net_ints = weights.encode(net, codes)
        self.net_chunks = (table, payload)
        self.decoder = _FrameDecoder(self.arch, net_ints, codes, self.meta)
        self.net = self.decoder.net
        self._first_latents = latents

    def _start_latents(self, target) -> list[jax.Array]:
        """Zeros, or for the first P frame the latents fitted with the networks."""
        if self._first_latents is not None:
            latents, self._first_latents = self._first_latents, None
            return latents
        return [jnp.zeros(g) for g in self.arch.grid_shapes(target.shape[:2])]

    def _fit_latents(self, target, start, lmbda: float) -> list[jax.Array]:
        """This frame's latents, from ``start``, with the shared networks frozen."""
        steps = self.settings.residual_steps
        self.key, key = jax.random.split(self.key)
        rates = np.asarray(schedule(self.config.fit, steps)(np.arange(steps)))
        latents, _, _ = fit_residual(self.net, start, target, lmbda, rates, self.config.latent, key,
                                     self.arch.latent_step(), False)
        return latents

    def _decoder(self) -> _FrameDecoder:
        if self.decoder is None:
            table, payload = _unused_networks(self.arch)
            ints, codes = weights.decode_ints(self.arch, table, payload)
            self.decoder = _FrameDecoder(self.arch, ints, codes, self.meta)
        return self.decoder

    def _pack(self, records: list[Record]) -> bytes:
        table, payload = self.net_chunks or _unused_networks(self.arch)
        return container.pack(container.Container(self.signal_chunk, write_arch(self.arch), table, payload,
                                                  frames=frame_records.encode(records)))


def _networks_for_budget(arch: MotionVideoConfig, budget_bits: float, share: float,
                         bits_per_param: float) -> MotionVideoConfig:
    """The residual networks with a synthesis twice as wide where they cost at most ``share`` of
    the budget (carphone at 0.16 bpp: +0.5 dB for 84 more bytes of networks)."""
    wide = arch.replace(synth_width=min(2 * arch.synth_width, MotionVideoConfig.size_range[1]))
    return wide if bits_per_param * wide.param_count() <= share * budget_bits else arch


def _frame_plan(frames: int, gop: int, intra_share: float) -> list[tuple[int, float]]:
    """(kind, share of the clip's bits) per frame: an I frame every ``gop`` frames taking
    ``intra_share`` of its GOP, the P frames sharing the rest evenly."""
    gop = frames if gop <= 0 else gop
    plan = []
    for start in range(0, frames, gop):
        length = min(gop, frames - start)
        intra = 1.0 if length == 1 else intra_share
        plan.append((INTRA, intra * length))
        plan += [(PREDICTED, (1.0 - intra) * length / max(length - 1, 1))] * (length - 1)
    return plan


def _intra_config(config: CodecConfig, target_bits: float | None, pixels: int) -> CodecConfig:
    """The image codec's default settings for an I frame of the clip, fitted for the video
    section's ``intra_steps`` and within ``target_bits`` (if any)."""
    image = config_module.load("image")
    return dataclasses.replace(
        image, fit=dataclasses.replace(image.fit, steps=config.video.intra_steps, lmbda=config.fit.lmbda),
        quant=config.quant, latent=config.latent, seed=config.seed,
        rate=RateConfig(target=target_bits / pixels if target_bits is not None else 0.0))


def _unused_networks(arch: MotionVideoConfig) -> tuple[bytes, bytes]:
    """The tensor chunks of networks no frame uses (all zeros: a few bytes)."""
    zeros = jax.tree_util.tree_map(lambda leaf: jnp.zeros(leaf.shape, leaf.dtype), weights.skeleton(arch))
    table, payload, _ = weights.encode(zeros, [0] * weights.tensor_count(arch))
    return table, payload


def _varint_size(n: int) -> int:
    return max(1, (n.bit_length() + 6) // 7)


MOTION_VIDEO_CODEC = MotionVideoCodec()
