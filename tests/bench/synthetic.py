"""Deterministic synthetic images, small and photo-like enough for lossy codecs."""

import numpy as np


def smooth_noisy_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Colour gradients plus a sine ripple plus seeded Gaussian noise, as HxWx3 uint8."""
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([200 * x + 30, 150 * y + 50, 80 + 60 * np.sin(6 * x + 3 * y)], axis=-1)
    noise = np.random.default_rng(seed).normal(0.0, 8.0, base.shape)
    return np.clip(base + noise, 0, 255).round().astype(np.uint8)
