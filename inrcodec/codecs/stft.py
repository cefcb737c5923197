"""The short-time Fourier transform that audio's side information (noise fill, band gains) is
analysed and applied in: frames of ``2^frame_log2`` samples, hop of half a frame, the square
root of a periodic Hann window (whose overlapped squares sum to one, so that a frame's spectrum
passed through unchanged gives the signal back), and bands of about equal width in ERBs."""

from __future__ import annotations

import math

import numpy as np

MIN_FRAME_LOG2, MAX_FRAME_LOG2 = 6, 14
# Samples (all channels) of a signal whose side information is analysed or applied: both hold
# the whole signal's frames (about 64 bytes a sample at the peak), so this bounds them near
# 2 GiB. Longer audio is coded without it.
MAX_SAMPLES = 1 << 25


def frame_count(samples: int, frame: int) -> int:
    """Frames of hop ``frame // 2`` that cover ``samples`` twice each."""
    return -(-samples // (frame // 2)) + 1


def frame_log2_for(sample_rate: int) -> int:
    """Frames of about 32 ms: 2^9 samples at 16 kHz, 2^10 at 44.1 kHz."""
    return min(max(round(math.log2(0.032 * sample_rate)), MIN_FRAME_LOG2), MAX_FRAME_LOG2)


def band_widths(first_bin: int, stop_bin: int, frame: int, sample_rate: int, erbs: float) -> tuple[int, ...]:
    """Bands of about ``erbs`` ERBs each covering bins ``first_bin`` to ``stop_bin - 1`` (each
    at least one bin)."""
    hz = np.arange(first_bin, stop_bin + 1) * sample_rate / frame
    rate = 21.4 * np.log10(1.0 + 0.00437 * hz)  # Glasberg and Moore's ERB-rate scale
    edges = [first_bin]
    for i in range(1, stop_bin - first_bin + 1):
        if rate[i] - rate[edges[-1] - first_bin] >= erbs or first_bin + i == stop_bin:
            edges.append(first_bin + i)
    return tuple(int(b - a) for a, b in zip(edges, edges[1:]))


def window(frame: int) -> np.ndarray:
    return np.sqrt(0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(frame) / frame))


def spectra(samples: np.ndarray, frame: int) -> np.ndarray:
    """(frames, channels, frame // 2 + 1) spectra of the windowed frames; the signal starts
    half a frame into the first frame."""
    hop = frame // 2
    count = frame_count(samples.shape[0], frame)
    padded = np.zeros((hop * (count + 1), samples.shape[1]))
    padded[hop : hop + samples.shape[0]] = samples
    index = np.arange(count)[:, None] * hop + np.arange(frame)[None, :]
    framed = padded[index] * window(frame)[None, :, None]  # (T, frame, C)
    return np.fft.rfft(framed, axis=1).transpose(0, 2, 1)


def overlap_add(spectra: np.ndarray, frame: int, samples: int) -> np.ndarray:
    """Inverse of :func:`spectra`: (``samples``, channels) floats."""
    hop = frame // 2
    count, channels, _ = spectra.shape
    framed = np.fft.irfft(spectra, n=frame, axis=2) * window(frame)[None, None, :]  # (T, C, frame)
    out = np.zeros((hop * (count + 1), channels))
    for t in range(2):  # frames of one parity do not overlap: each half adds in one reshape
        part = framed[t::2].transpose(0, 2, 1).reshape(-1, channels)
        out[t * hop : t * hop + part.shape[0]] += part
    return out[hop : hop + samples]


def band_power(spectra: np.ndarray, widths: tuple[int, ...]) -> np.ndarray:
    """Summed power of each band of consecutive bins: (T, C, bins) -> (T, C, bands)."""
    starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
    return np.add.reduceat(np.abs(spectra) ** 2, starts, axis=2)


class BandLevels:
    """What side information in bands of this transform holds (with ``frame_log2`` and
    ``step_code`` fields): its frame length and its level step (``step_code`` half dB)."""

    frame_log2: int
    step_code: int

    @property
    def frame(self) -> int:
        return 1 << self.frame_log2

    @property
    def step_db(self) -> float:
        return self.step_code / 2.0
