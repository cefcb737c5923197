"""ViSQOL v3 MOS-LQO of a decoded clip against its original (the ``visqol-python`` port).

ViSQOL scores one channel at one rate: speech mode at 16 kHz (up to 8 kHz of band), audio mode
at 48 kHz. Both clips are mixed to mono and resampled to the mode's rate with the same
polyphase filter, so the score compares the codecs, not the resampler. Speech mode uses the
deep-lattice mapper (ViSQOL's C++ default) when its runtime is installed.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Sequence
from math import gcd

import numpy as np

MODE_RATES = {"speech": 16000, "audio": 48000}
# The shortest clips ViSQOL scores (it compares patches of about half a second).
MIN_SECONDS = {"speech": 0.75, "audio": 1.0}


def clip_mode(name: str, sample_rate: int, speech_patterns: Sequence[str] | None) -> str:
    """ViSQOL mode of a clip: "speech" for a file name matching one of ``speech_patterns``
    (shell globs), else "audio"; without patterns, "speech" for clips sampled at 16 kHz or less."""
    if speech_patterns is None:
        return "speech" if sample_rate <= 16000 else "audio"
    return "speech" if any(fnmatch.fnmatch(name, p) for p in speech_patterns) else "audio"


def mos(original: np.ndarray, decoded: np.ndarray, sample_rate: int, mode: str) -> float:
    """MOS-LQO (1 to 5) of ``decoded`` against ``original``, both (samples, channels) floats."""
    rate = MODE_RATES[mode]
    reference, degraded = (_mono_at(x, sample_rate, rate) for x in (original, decoded))
    return float(_api(mode).measure_from_arrays(reference, degraded, sample_rate=rate).moslqo)


def _mono_at(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    from scipy.signal import resample_poly

    mono = np.asarray(samples, np.float64).reshape(samples.shape[0], -1).mean(axis=1)
    if rate == target:
        return mono
    g = gcd(rate, target)
    return resample_poly(mono, target // g, rate // g)


@functools.cache
def _api(mode: str):
    from visqol import VisqolApi

    api = VisqolApi()
    api.create(mode=mode)
    return api
