"""Audio noise fill: above a cutoff the file carries no waveform, only the energy of each band
and frame, and the decoder fills those bands with noise of that energy.

What an ear (and ViSQOL) hears in the top octaves of speech and music at low rates is mostly
the band's loudness over time, not its waveform, and matching that waveform costs more bits
than the rest of the signal. So, as perceptual codecs do (AAC's noise substitution, Opus's
band folding), the network codes the signal below the cutoff and the noise chunk describes the
rest in a few hundred bit/s.

Analysis and synthesis share one short-time Fourier transform (:mod:`inrcodec.codecs.stft`).

The chunk (format 1.6, required in noise-filled audio files)::

    frame_log2 u8 | first_bin uvarint | bands uvarint | width uvarint * bands | step_code u8 |
    group uvarint | top svarint | silent uvarint | entropy model * M | payload (rest of the chunk)

Bins ``first_bin`` onwards are split into ``bands`` bands of consecutive bins. Each band of
each channel has one level per ``group`` frames: level v means a power spectral density of
``(top - v) * step`` dB (step = ``step_code / 2`` dB) and ``silent`` means no noise. The
levels are coded as differences, each kind with its own discrete-Laplace model (``entropy``):
in the first channel from the same band's level one group earlier (0 before the first), in
the others (from format 1.8) from the same band's level in the channel before, since the
channels of one recording mostly share their loudness. M is 1 for mono and for files before
1.8 (where every channel is coded as the first), else 2; the payload holds the first
channel's differences (group, band), then the other channels' (group, channel, band).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from inrcodec import entropy
from inrcodec.codecs import stft
from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import FormatError

MAX_LEVELS = 1024
# Below this power spectral density a band is silent (no noise), 30 dB under 16-bit dither.
SILENT_DB = -130.0
NOISE_SEED = 0x1F1F


@dataclasses.dataclass(frozen=True)
class NoiseBands(stft.BandLevels):
    """What the noise chunk holds; ``levels`` is (groups, channels, bands) integers."""

    frame_log2: int
    first_bin: int
    widths: tuple[int, ...]
    step_code: int
    group: int
    top: int
    silent: int
    levels: np.ndarray


def analyse(samples: np.ndarray, sample_rate: int, cutoff_hz: float, frame_log2: int, *, step_db: float,
            band_erbs: float, group: int = 1) -> NoiseBands:
    """The noise bands of ``samples`` ((N, C) floats) above ``cutoff_hz``."""
    frame = 1 << frame_log2
    first_bin = min(max(1, math.ceil(cutoff_hz * frame / sample_rate)), frame // 2)
    widths = stft.band_widths(first_bin, frame // 2 + 1, frame, sample_rate, band_erbs)
    density = _band_density(stft.spectra(samples, frame)[:, :, first_bin:], widths, frame)  # (T, C, B)
    groups = -(-density.shape[0] // group)
    pad = groups * group - density.shape[0]
    density = np.concatenate([density, np.repeat(density[-1:], pad, axis=0)]).reshape(groups, group, *density.shape[1:])
    db = 10.0 * np.log10(np.maximum(density.mean(axis=1), 1e-30))
    step_code = max(1, min(255, round(2 * step_db)))
    step = step_code / 2.0
    quantized = np.round(db / step).astype(np.int64)
    floor = math.ceil(SILENT_DB / step)
    top = int(quantized.max(initial=floor))
    silent = max(1, min(top - floor + 1, MAX_LEVELS - 1))
    levels = np.where(quantized < floor, silent, np.clip(top - quantized, 0, silent - 1))
    return NoiseBands(frame_log2, first_bin, widths, step_code, group, top, silent, levels)


def write(bands: NoiseBands) -> bytes:
    w = Writer()
    w.u8(bands.frame_log2)
    w.uvarint(bands.first_bin)
    w.uvarint(len(bands.widths))
    for width in bands.widths:
        w.uvarint(width)
    w.u8(bands.step_code)
    w.uvarint(bands.group)
    w.svarint(bands.top)
    w.uvarint(bands.silent)
    deltas = _deltas(bands.levels)
    models = [entropy.fit_model(d)[0] for d in deltas]
    for model in models:
        model.write(w)
    return w.getvalue() + entropy.encode(deltas, models)


def read(chunk: bytes, samples: int, channels: int, *, channel_prediction: bool = True) -> NoiseBands:
    """Parse a noise chunk of a signal of ``samples`` frames and ``channels``; FormatError on
    anything out of bounds. ``channel_prediction`` False reads the layout before format 1.8."""
    r = Reader(chunk, what="noise chunk")
    frame_log2 = r.u8()
    if not stft.MIN_FRAME_LOG2 <= frame_log2 <= stft.MAX_FRAME_LOG2:
        raise FormatError(f"noise chunk: frame of 2^{frame_log2} samples outside 2^{stft.MIN_FRAME_LOG2}..2^{stft.MAX_FRAME_LOG2}")
    frame = 1 << frame_log2
    if samples * channels > stft.MAX_SAMPLES:
        raise FormatError(f"noise chunk for {samples * channels} samples; at most {stft.MAX_SAMPLES} are noise-filled")
    first_bin = r.uvarint(limit=frame // 2)
    count = r.uvarint(limit=frame // 2 + 1 - first_bin)
    widths = tuple(r.uvarint(limit=frame) for _ in range(count))
    if first_bin == 0 or count == 0 or 0 in widths or first_bin + sum(widths) != frame // 2 + 1:
        raise FormatError(f"noise chunk: bands {widths} from bin {first_bin} do not end at bin {frame // 2}")
    step_code = r.u8()
    group = r.uvarint(limit=1 << 16)
    top = r.svarint(limit=1 << 16)
    silent = r.uvarint(limit=MAX_LEVELS - 1)
    if step_code == 0 or group == 0 or silent == 0:
        raise FormatError(f"noise chunk: step {step_code}, group {group}, silent level {silent} must be positive")
    groups = -(-stft.frame_count(samples, frame) // group)
    sizes = [groups * count, groups * (channels - 1) * count] if channel_prediction and channels > 1 else [
        groups * channels * count]
    models = [entropy.TensorModel.read(r) for _ in sizes]
    if any(m.low < -silent or m.low + m.alphabet_size - 1 > silent for m in models):
        raise FormatError(f"noise chunk: level differences beyond the {silent + 1} levels")
    deltas = entropy.decode(r.raw(r.remaining()), sizes, models)
    if len(deltas) == 1:
        levels = np.cumsum(deltas[0].reshape(groups, channels, count), axis=0)
    else:
        first = np.cumsum(deltas[0].reshape(groups, 1, count), axis=0)
        levels = np.cumsum(np.concatenate([first, deltas[1].reshape(groups, channels - 1, count)], axis=1), axis=1)
    if levels.min() < 0 or levels.max() > silent:
        raise FormatError(f"noise chunk: levels outside 0..{silent}")
    return NoiseBands(frame_log2, first_bin, widths, step_code, group, top, silent, levels)


def lowpass(samples: np.ndarray, bands: NoiseBands) -> np.ndarray:
    """``samples`` ((N, C) floats) without the noise-filled bins."""
    spectra = stft.spectra(samples, bands.frame)
    spectra[:, :, bands.first_bin:] = 0.0
    return stft.overlap_add(spectra, bands.frame, samples.shape[0])


def fill(samples: np.ndarray, bands: NoiseBands) -> np.ndarray:
    """The decoder's output: ``samples`` below the cutoff plus the coded noise above it."""
    spectra = stft.spectra(samples, bands.frame)
    frames, channels, _ = spectra.shape
    level = np.repeat(bands.levels, bands.group, axis=0)[:frames]  # (T, C, B)
    density = np.where(level == bands.silent, 0.0, 10.0 ** ((bands.top - level) * bands.step_db / 10.0))
    per_bin = np.repeat(density, bands.widths, axis=2)  # (T, C, bins above the cutoff)
    # Random phases from PCG64's raw stream, which NumPy keeps the same across versions.
    raw = np.random.PCG64(NOISE_SEED).random_raw(per_bin.size).reshape(per_bin.shape)
    phase = np.exp(2j * np.pi * (raw >> np.uint64(11)).astype(np.float64) * 2.0**-53)
    # Independent frames add up to half the power of a signal's overlapping ones: each gets
    # |X|^2 = density * frame, twice what a frame of that signal holds.
    spectra[:, :, bands.first_bin:] = np.sqrt(per_bin * bands.frame) * phase
    return stft.overlap_add(spectra, bands.frame, samples.shape[0]).astype(np.float32)


def _band_density(spectra: np.ndarray, widths: tuple[int, ...], frame: int) -> np.ndarray:
    """Mean power spectral density of each band: (T, C, bins) spectra -> (T, C, bands). The
    window's squares sum to ``frame / 2``: white noise of variance s^2 has density s^2."""
    return stft.band_power(spectra, widths) / (frame / 2.0) / np.asarray(widths)


def _deltas(levels: np.ndarray) -> list[np.ndarray]:
    """The coded differences of (groups, channels, bands) ``levels``, one array per model."""
    if levels.shape[1] == 1:
        return [np.diff(levels, axis=0, prepend=0).reshape(-1)]
    return [np.diff(levels[:, 0], axis=0, prepend=0).reshape(-1), np.diff(levels, axis=1).reshape(-1)]
