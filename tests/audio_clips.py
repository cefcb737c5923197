"""Short deterministic audio clips and a fast codec configuration for the audio tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Options that make a fit of a quarter second of audio take seconds: few steps, and a grid
# small enough (finest level 256 cells) to stay inside any tested rate target after them.
FAST_AUDIO = ("fit.steps=100", "fit.steps_per_call=50", "arch.levels=4", "arch.features=1", "arch.max_res=256")


def tone_clip(seconds: float = 0.25, rate: int = 8000, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Two decaying tones plus a little noise, (samples, channels) float32 within +-0.6."""
    t = np.arange(round(seconds * rate)) / rate
    noise = np.random.default_rng(seed).normal(0.0, 0.01, (t.size, channels))
    tones = [0.4 * np.sin(2 * np.pi * (220 + 110 * c) * t) + 0.15 * np.sin(2 * np.pi * 1250 * t) for c in range(channels)]
    return (np.stack(tones, axis=-1) * np.exp(-2 * t)[:, None] + noise).astype(np.float32)


def write_clip(path: Path, data: np.ndarray, rate: int, subtype: str) -> Path:
    import soundfile as sf

    sf.write(path, data, rate, subtype=subtype)
    return path
