import numpy as np
import pytest
from scipy import integrate

from pipelines.bench.bdrate import bd_psnr, bd_rate, mean_rd_curve

PSNRS = [26.0, 29.0, 32.0, 35.0, 38.0]
RATES = [0.15, 0.3, 0.6, 1.2, 2.5]


def test_curve_against_itself_is_zero():
    assert bd_rate(RATES, PSNRS, RATES, PSNRS) == pytest.approx(0.0, abs=1e-9)
    assert bd_psnr(RATES, PSNRS, RATES, PSNRS) == pytest.approx(0.0, abs=1e-9)


def test_half_the_rate_at_every_psnr_is_minus_fifty_percent():
    half = [r / 2 for r in RATES]
    assert bd_rate(half, PSNRS, RATES, PSNRS) == pytest.approx(-50.0, abs=1e-6)
    assert bd_rate(RATES, PSNRS, half, PSNRS) == pytest.approx(100.0, abs=1e-6)


def test_swapping_curves_inverts_the_rate_ratio():
    # Non-uniform rate change over a shared PSNR range: (1 + x)(1 + y) must be exactly 1.
    other = [r * f for r, f in zip(RATES, [0.9, 0.7, 0.8, 1.1, 1.3], strict=True)]
    forward = bd_rate(other, PSNRS, RATES, PSNRS)
    backward = bd_rate(RATES, PSNRS, other, PSNRS)
    assert (1 + forward / 100) * (1 + backward / 100) == pytest.approx(1.0, rel=1e-12)
    assert forward != pytest.approx(0.0, abs=1.0)


def test_matches_numerical_integration_over_the_overlap_only():
    psnrs_b = [24.0, 27.5, 31.0, 33.0, 36.0, 40.0]
    rates_b = [0.1, 0.22, 0.5, 0.8, 1.6, 3.5]
    fit_a = np.polyfit(PSNRS, np.log(RATES), 3)
    fit_b = np.polyfit(psnrs_b, np.log(rates_b), 3)
    low, high = 26.0, 38.0  # overlap of [26, 38] and [24, 40]
    area, _ = integrate.quad(lambda p: np.polyval(fit_a, p) - np.polyval(fit_b, p), low, high)
    expected = (np.exp(area / (high - low)) - 1) * 100
    assert bd_rate(RATES, PSNRS, rates_b, psnrs_b) == pytest.approx(expected, rel=1e-9)


def test_bd_psnr_is_positive_when_a_has_higher_quality_at_equal_rate():
    better = [p + 1.0 for p in PSNRS]
    assert bd_psnr(RATES, better, RATES, PSNRS) == pytest.approx(1.0, abs=1e-9)
    assert bd_psnr(RATES, PSNRS, RATES, better) == pytest.approx(-1.0, abs=1e-9)
    assert bd_rate(RATES, better, RATES, PSNRS) < 0


def test_fewer_than_four_points_raise():
    with pytest.raises(ValueError, match="at least 4 points"):
        bd_rate(RATES[:3], PSNRS[:3], RATES, PSNRS)
    with pytest.raises(ValueError, match="at least 4 points"):
        bd_psnr(RATES, PSNRS, RATES[:3], PSNRS[:3])


def test_curves_without_overlap_raise():
    higher = [p + 20.0 for p in PSNRS]
    with pytest.raises(ValueError, match="do not overlap"):
        bd_rate(RATES, PSNRS, RATES, higher)


@pytest.mark.parametrize(
    "rates, psnrs",
    [
        ([0.0, 0.3, 0.6, 1.2, 2.5], PSNRS),  # zero rate
        (RATES, [26.0, 29.0, np.inf, 35.0, 38.0]),  # lossless point
        (RATES, PSNRS[:4]),  # lengths differ
    ],
)
def test_invalid_curves_raise(rates, psnrs):
    with pytest.raises(ValueError):
        bd_rate(rates, psnrs, RATES, PSNRS)


def test_mean_rd_curve_averages_each_point_over_files():
    rates, psnrs = mean_rd_curve([[1.0, 2.0], [3.0, 6.0]], [[30.0, 34.0], [32.0, 36.0]])
    np.testing.assert_allclose(rates, [2.0, 4.0])
    np.testing.assert_allclose(psnrs, [31.0, 35.0])


def test_mean_rd_curve_rejects_ragged_input():
    with pytest.raises(ValueError):
        mean_rd_curve([[1.0, 2.0], [3.0]], [[30.0, 34.0], [32.0]])
