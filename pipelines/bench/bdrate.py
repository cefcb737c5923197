"""Bjontegaard delta rate and PSNR (VCEG-M33), and mean RD curves over files.

Each curve is fitted with a cubic polynomial (log-rate as a function of PSNR for BD-rate, PSNR
as a function of log-rate for BD-PSNR) and the two fits are integrated over the range where both
curves have data, as in Bjontegaard's reference implementation and CompressAI's.
"""

from collections.abc import Sequence

import numpy as np

_MIN_POINTS = 4  # a cubic fit needs 4 points


def bd_rate(
    rates_a: Sequence[float],
    psnrs_a: Sequence[float],
    rates_b: Sequence[float],
    psnrs_b: Sequence[float],
) -> float:
    """Average rate difference of curve a against anchor b, in percent, at equal quality.

    Negative means codec a needs fewer bits than b for the same PSNR (-50: half the rate).
    Rates in any positive unit (bpp, kbit/s), the same for both curves.
    """
    log_a, psnr_a = _log_rates(rates_a, psnrs_a, "a")
    log_b, psnr_b = _log_rates(rates_b, psnrs_b, "b")
    mean_diff = _mean_fit_difference(psnr_a, log_a, psnr_b, log_b, "PSNR")
    return float((np.exp(mean_diff) - 1.0) * 100.0)


def bd_psnr(
    rates_a: Sequence[float],
    psnrs_a: Sequence[float],
    rates_b: Sequence[float],
    psnrs_b: Sequence[float],
) -> float:
    """Average PSNR difference (dB) of curve a over anchor b at equal rate; positive: a better."""
    log_a, psnr_a = _log_rates(rates_a, psnrs_a, "a")
    log_b, psnr_b = _log_rates(rates_b, psnrs_b, "b")
    return _mean_fit_difference(log_a, psnr_a, log_b, psnr_b, "log-rate")


def mean_rd_curve(
    rates_per_file: Sequence[Sequence[float]], psnrs_per_file: Sequence[Sequence[float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Mean rate and mean PSNR at each rate-point index over files (CompressAI's convention).

    Every file must have the same number of points, in the same order of the codec parameter.
    """
    rates = np.asarray(rates_per_file, dtype=np.float64)
    psnrs = np.asarray(psnrs_per_file, dtype=np.float64)
    if rates.ndim != 2 or rates.shape != psnrs.shape or rates.shape[0] == 0:
        raise ValueError(
            "need one equally long list of rates and of PSNRs per file, "
            f"got shapes {rates.shape} and {psnrs.shape}"
        )
    return rates.mean(axis=0), psnrs.mean(axis=0)


def _log_rates(
    rates: Sequence[float], psnrs: Sequence[float], label: str
) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rates, dtype=np.float64)
    p = np.asarray(psnrs, dtype=np.float64)
    if r.ndim != 1 or r.shape != p.shape:
        raise ValueError(f"curve {label}: rates and PSNRs must be equally long 1-D sequences")
    if r.size < _MIN_POINTS:
        raise ValueError(f"curve {label}: BD needs at least {_MIN_POINTS} points, got {r.size}")
    if not (np.all(np.isfinite(r)) and np.all(r > 0) and np.all(np.isfinite(p))):
        raise ValueError(f"curve {label}: rates must be positive and finite, PSNRs finite")
    return np.log(r), p


def _mean_fit_difference(
    x_a: np.ndarray, y_a: np.ndarray, x_b: np.ndarray, y_b: np.ndarray, x_name: str
) -> float:
    """Mean of (cubic fit of y_a) - (cubic fit of y_b) over the overlap of the x ranges."""
    low = max(x_a.min(), x_b.min())
    high = min(x_a.max(), x_b.max())
    if not low < high:
        raise ValueError(
            f"the curves do not overlap in {x_name}: "
            f"[{x_a.min():.4g}, {x_a.max():.4g}] vs [{x_b.min():.4g}, {x_b.max():.4g}]"
        )
    integral_a = np.polyint(np.polyfit(x_a, y_a, 3))
    integral_b = np.polyint(np.polyfit(x_b, y_b, 3))
    area_a = np.polyval(integral_a, high) - np.polyval(integral_a, low)
    area_b = np.polyval(integral_b, high) - np.polyval(integral_b, low)
    return float((area_a - area_b) / (high - low))
