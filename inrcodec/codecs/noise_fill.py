"""Audio noise fill: above a cutoff the file carries no waveform, only the energy of each band
and frame, and the decoder fills those bands with noise of that energy.

What an ear (and ViSQOL) hears in the top octaves of speech and music at low rates is mostly
the band's loudness over time, not its waveform, and matching that waveform costs more bits
than the rest of the signal. So, as perceptual codecs do (AAC's noise substitution, Opus's
band folding), the network codes the signal below the cutoff and the noise chunk describes the
rest in a few hundred bit/s.

Analysis and synthesis share one short-time Fourier transform: frames of ``2^frame_log2``
samples, hop of half a frame, the square root of a periodic Hann window (whose overlapped
squares sum to one, so that a frame's spectrum passed through unchanged gives the signal back).

The chunk (format 1.6, required in noise-filled audio files)::

    frame_log2 u8 | first_bin uvarint | bands uvarint | width uvarint * bands | step_code u8 |
    group uvarint | top svarint | silent uvarint | entropy model | payload (rest of the chunk)

Bins ``first_bin`` onwards are split into ``bands`` bands of consecutive bins. Each band of
each channel has one level per ``group`` frames: level v means a power spectral density of
``(top - v) * step`` dB (step = ``step_code / 2`` dB) and ``silent`` means no noise. The
levels, in order (group, channel, band), are coded as differences from the same band's level
one group earlier (0 before the first), with one discrete-Laplace model (``entropy``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from inrcodec import entropy
from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import FormatError

MIN_FRAME_LOG2, MAX_FRAME_LOG2 = 6, 14
# Samples (all channels) a noise-filled signal may have: analysis and synthesis hold the whole
# signal's frames (about 64 bytes a sample at the peak), so this bounds them near 2 GiB. Longer
# audio is coded without noise fill.
MAX_SAMPLES = 1 << 25
MAX_LEVELS = 1024
# Below this power spectral density a band is silent (no noise), 30 dB under 16-bit dither.
SILENT_DB = -130.0
NOISE_SEED = 0x1F1F


@dataclasses.dataclass(frozen=True)
class NoiseBands:
    """What the noise chunk holds; ``levels`` is (groups, channels, bands) integers."""

    frame_log2: int
    first_bin: int
    widths: tuple[int, ...]
    step_code: int
    group: int
    top: int
    silent: int
    levels: np.ndarray

    @property
    def frame(self) -> int:
        return 1 << self.frame_log2

    @property
    def step_db(self) -> float:
        return self.step_code / 2.0


def frame_count(samples: int, frame: int) -> int:
    """Frames of hop ``frame // 2`` that cover ``samples`` twice each."""
    return -(-samples // (frame // 2)) + 1


def band_widths(first_bin: int, frame: int, sample_rate: int, erbs: float) -> tuple[int, ...]:
    """Bands of about ``erbs`` ERBs each from ``first_bin`` to the top bin (at least one bin)."""
    top = frame // 2 + 1
    hz = np.arange(first_bin, top + 1) * sample_rate / frame
    rate = 21.4 * np.log10(1.0 + 0.00437 * hz)  # Glasberg and Moore's ERB-rate scale
    edges = [first_bin]
    for i in range(1, top - first_bin + 1):
        if rate[i] - rate[edges[-1] - first_bin] >= erbs or first_bin + i == top:
            edges.append(first_bin + i)
    return tuple(int(b - a) for a, b in zip(edges, edges[1:]))


def frame_log2_for(sample_rate: int) -> int:
    """Frames of about 32 ms: 2^9 samples at 16 kHz, 2^10 at 44.1 kHz."""
    return min(max(round(math.log2(0.032 * sample_rate)), MIN_FRAME_LOG2), MAX_FRAME_LOG2)


def analyse(samples: np.ndarray, sample_rate: int, cutoff_hz: float, frame_log2: int, *, step_db: float,
            band_erbs: float, group: int = 1) -> NoiseBands:
    """The noise bands of ``samples`` ((N, C) floats) above ``cutoff_hz``."""
    frame = 1 << frame_log2
    first_bin = min(max(1, math.ceil(cutoff_hz * frame / sample_rate)), frame // 2)
    widths = band_widths(first_bin, frame, sample_rate, band_erbs)
    density = _band_density(_spectra(samples, frame)[:, :, first_bin:], widths, frame)  # (T, C, B)
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
    model, _ = entropy.fit_model(deltas)
    model.write(w)
    return w.getvalue() + entropy.encode([deltas], [model])


def read(chunk: bytes, samples: int, channels: int) -> NoiseBands:
    """Parse a noise chunk of a signal of ``samples`` frames and ``channels``; FormatError on
    anything out of bounds."""
    r = Reader(chunk, what="noise chunk")
    frame_log2 = r.u8()
    if not MIN_FRAME_LOG2 <= frame_log2 <= MAX_FRAME_LOG2:
        raise FormatError(f"noise chunk: frame of 2^{frame_log2} samples outside 2^{MIN_FRAME_LOG2}..2^{MAX_FRAME_LOG2}")
    frame = 1 << frame_log2
    if samples * channels > MAX_SAMPLES:
        raise FormatError(f"noise chunk for {samples * channels} samples; at most {MAX_SAMPLES} are noise-filled")
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
    groups = -(-frame_count(samples, frame) // group)
    model = entropy.TensorModel.read(r)
    if model.low < -silent or model.low + model.alphabet_size - 1 > silent:
        raise FormatError(f"noise chunk: level differences beyond the {silent + 1} levels")
    [deltas] = entropy.decode(r.raw(r.remaining()), [groups * channels * count], [model])
    levels = np.cumsum(deltas.reshape(groups, channels, count), axis=0)
    if levels.min() < 0 or levels.max() > silent:
        raise FormatError(f"noise chunk: levels outside 0..{silent}")
    return NoiseBands(frame_log2, first_bin, widths, step_code, group, top, silent, levels)


def lowpass(samples: np.ndarray, bands: NoiseBands) -> np.ndarray:
    """``samples`` ((N, C) floats) without the noise-filled bins."""
    spectra = _spectra(samples, bands.frame)
    spectra[:, :, bands.first_bin:] = 0.0
    return _overlap_add(spectra, bands.frame, samples.shape[0])


def fill(samples: np.ndarray, bands: NoiseBands) -> np.ndarray:
    """The decoder's output: ``samples`` below the cutoff plus the coded noise above it."""
    spectra = _spectra(samples, bands.frame)
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
    return _overlap_add(spectra, bands.frame, samples.shape[0]).astype(np.float32)


def _window(frame: int) -> np.ndarray:
    return np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(frame) / frame))


def _spectra(samples: np.ndarray, frame: int) -> np.ndarray:
    """(frames, channels, frame // 2 + 1) spectra of the windowed frames; the signal starts
    half a frame into the first frame."""
    hop = frame // 2
    count = frame_count(samples.shape[0], frame)
    padded = np.zeros((hop * (count + 1), samples.shape[1]))
    padded[hop : hop + samples.shape[0]] = samples
    index = np.arange(count)[:, None] * hop + np.arange(frame)[None, :]
    framed = padded[index] * _window(frame)[None, :, None]  # (T, frame, C)
    return np.fft.rfft(framed, axis=1).transpose(0, 2, 1)


def _overlap_add(spectra: np.ndarray, frame: int, samples: int) -> np.ndarray:
    hop = frame // 2
    count, channels, _ = spectra.shape
    framed = np.fft.irfft(spectra, n=frame, axis=2) * _window(frame)[None, None, :]  # (T, C, frame)
    out = np.zeros((hop * (count + 1), channels))
    for t in range(2):  # frames of one parity do not overlap: each half adds in one reshape
        part = framed[t::2].transpose(0, 2, 1).reshape(-1, channels)
        out[t * hop : t * hop + part.shape[0]] += part
    return out[hop : hop + samples]


def _band_density(spectra: np.ndarray, widths: tuple[int, ...], frame: int) -> np.ndarray:
    """Mean power spectral density of each band: (T, C, bins) spectra -> (T, C, bands). The
    window's squares sum to ``frame / 2``: white noise of variance s^2 has density s^2."""
    power = np.abs(spectra) ** 2 / (frame / 2.0)
    starts = np.concatenate([[0], np.cumsum(widths)[:-1]])
    return np.add.reduceat(power, starts, axis=2) / np.asarray(widths)


def _deltas(levels: np.ndarray) -> np.ndarray:
    return np.diff(levels, axis=0, prepend=0).reshape(-1)
