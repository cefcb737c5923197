"""Distortion measures, numpy/scipy only (no JAX), shared by the codec and the benchmarks.

PSNR is computed on the integers a user would save. MS-SSIM follows Wang, Simoncelli & Bovik
(2003) and their reference code: 5 scales, 11x11 Gaussian window (sigma 1.5), K1 = 0.01,
K2 = 0.03, 2x2 average downsampling; per colour channel, then averaged over channels (the
CompressAI / pytorch_msssim convention for RGB).
"""

from __future__ import annotations

import math

import numpy as np

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_WINDOW = 11
_SIGMA = 1.5
# The coarsest scale (side / 2**4) must still hold one full 11x11 window.
MS_SSIM_MIN_SIDE = (_WINDOW - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1) + 1


def psnr(reference: np.ndarray, test: np.ndarray, peak: float) -> float:
    """PSNR in dB of ``test`` against ``reference``; ``inf`` for identical inputs."""
    reference, test = np.asarray(reference, np.float64), np.asarray(test, np.float64)
    if reference.shape != test.shape:
        raise ValueError(f"shapes differ: {reference.shape} vs {test.shape}")
    mse = float(np.mean((reference - test) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak**2 / mse)


def snr(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-noise ratio in dB: reference energy over error energy; ``inf`` if identical."""
    reference, test = np.asarray(reference, np.float64), np.asarray(test, np.float64)
    if reference.shape != test.shape:
        raise ValueError(f"shapes differ: {reference.shape} vs {test.shape}")
    noise = float(np.sum((reference - test) ** 2))
    if noise == 0:
        return math.inf
    signal = float(np.sum(reference**2))
    return 10.0 * math.log10(signal / noise) if signal > 0 else -math.inf


def ms_ssim(reference: np.ndarray, test: np.ndarray, peak: float) -> float | None:
    """5-scale MS-SSIM of two HxW or HxWxC images, mean over channels; 1 if identical.

    Returns None for images with a side shorter than ``MS_SSIM_MIN_SIDE`` (161), where the
    measure is undefined.
    """
    x, y = np.asarray(reference, np.float64), np.asarray(test, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {y.shape}")
    if min(x.shape[:2]) < MS_SSIM_MIN_SIDE:
        return None
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    last = len(MS_SSIM_WEIGHTS) - 1
    result = np.ones(x.shape[2])
    for scale, weight in enumerate(MS_SSIM_WEIGHTS):
        ssim, cs = _ssim_per_channel(x, y, c1, c2)
        term = ssim if scale == last else cs
        # cs can dip below 0 for anti-correlated content, and a fractional power of a negative
        # number is NaN: clamp at 0 as pytorch_msssim does.
        result *= np.maximum(term, 0.0) ** weight
        if scale != last:
            x, y = _downsample(x), _downsample(y)
    return float(np.mean(result))


def _gaussian_window() -> np.ndarray:
    t = np.arange(_WINDOW) - (_WINDOW - 1) / 2
    g = np.exp(-(t**2) / (2 * _SIGMA**2))
    return g / g.sum()


def _filter_valid(x: np.ndarray) -> np.ndarray:
    """Separable Gaussian filter over the two spatial axes, keeping only 'valid' positions."""
    from scipy import ndimage

    g = _gaussian_window()
    out = ndimage.correlate1d(ndimage.correlate1d(x, g, axis=0), g, axis=1)
    r = _WINDOW // 2
    return out[r:-r, r:-r]


def _ssim_per_channel(x: np.ndarray, y: np.ndarray, c1: float, c2: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean SSIM and mean contrast-structure term per channel of HxWxC float images."""
    mu_x, mu_y = _filter_valid(x), _filter_valid(y)
    var_x = _filter_valid(x * x) - mu_x**2
    var_y = _filter_valid(y * y) - mu_y**2
    cov = _filter_valid(x * y) - mu_x * mu_y
    cs_map = (2 * cov + c2) / (var_x + var_y + c2)
    ssim_map = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs_map
    return ssim_map.mean(axis=(0, 1)), cs_map.mean(axis=(0, 1))


def _downsample(x: np.ndarray) -> np.ndarray:
    """2x2 mean; an odd side is edge-padded first (Wang's 'symmetric' imfilter, then 1:2:end)."""
    pad = [(0, x.shape[0] % 2), (0, x.shape[1] % 2), (0, 0)]
    x = np.pad(x, pad, mode="edge")
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


# Point clouds, MPEG convention (pc_error): the reference is scaled so that its bounding box's
# longest side spans [0, 1023]; PSNR = 10 log10(3 * 1023^2 / MSE), MSE the larger of the two
# directions' mean squared nearest-neighbour error.
POINT_PEAK = 1023.0
# BT.709 RGB -> Y'CbCr (8-bit full range), as pc_error reports colour.
_BT709 = np.array([[0.2126, 0.7152, 0.0722], [-0.1146, -0.3854, 0.5], [0.5, -0.4542, -0.0458]])


def point_cloud_metrics(reference: np.ndarray, test: np.ndarray, reference_normals: np.ndarray,
                        reference_colors: np.ndarray | None = None,
                        test_colors: np.ndarray | None = None) -> dict[str, float]:
    """D1 (point-to-point) and D2 (point-to-plane) PSNR, plus colour PSNR when both have colours.

    D2 projects each nearest-neighbour error on the normal of the reference point of the pair
    (normals given for the reference, estimated by the caller when the file has none).
    """
    from scipy.spatial import cKDTree

    lo = reference.min(axis=0)
    scale = POINT_PEAK / max(float((reference.max(axis=0) - lo).max()), 1e-300)
    ref, tst = (reference - lo) * scale, (test - lo) * scale
    _, to_test = cKDTree(tst).query(ref)  # reference point i -> its nearest test point
    _, to_ref = cKDTree(ref).query(tst)  # test point j -> its nearest reference point
    err_a = tst[to_test] - ref  # reference -> test
    err_b = tst - ref[to_ref]  # test -> reference
    d1 = max(np.mean(np.sum(err_a**2, 1)), np.mean(np.sum(err_b**2, 1)))
    d2 = max(np.mean(np.sum(err_a * reference_normals, 1) ** 2),
             np.mean(np.sum(err_b * reference_normals[to_ref], 1) ** 2))
    out = {"d1_psnr": _point_psnr(d1), "d2_psnr": _point_psnr(d2)}
    if reference_colors is not None and test_colors is not None:
        ref_c, tst_c = reference_colors.astype(np.float64), test_colors.astype(np.float64)
        mse_a = np.mean((tst_c[to_test] - ref_c) ** 2, axis=0)
        mse_b = np.mean((tst_c - ref_c[to_ref]) ** 2, axis=0)
        yuv_a = np.mean(((tst_c[to_test] - ref_c) @ _BT709.T) ** 2, axis=0)
        yuv_b = np.mean(((tst_c - ref_c[to_ref]) @ _BT709.T) ** 2, axis=0)
        out["rgb_psnr"] = _psnr_of(float(np.maximum(mse_a, mse_b).mean()), 255.0)
        out["y_psnr"] = _psnr_of(float(max(yuv_a[0], yuv_b[0])), 255.0)
    return out


def _point_psnr(mse: float) -> float:
    return _psnr_of(float(mse), POINT_PEAK, factor=3.0)


def _psnr_of(mse: float, peak: float, factor: float = 1.0) -> float:
    return float("inf") if mse <= 0 else float(10.0 * np.log10(factor * peak**2 / mse))


def json_ready(record: dict) -> dict:
    """The record with non-finite numbers as None: JSON has no infinity (the PSNR of an exact,
    stored file) and strict parsers reject the ``Infinity`` Python writes."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
