import numpy as np
import pytest

from inrcodec.metrics import MS_SSIM_MIN_SIDE, ms_ssim, psnr

from tests.bench.synthetic import smooth_noisy_rgb


def _add_noise(image: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, image.shape)
    return np.clip(image + noise, 0, 255).round().astype(np.uint8)


def test_psnr_of_an_off_by_one_image_is_48_13_db():
    a = np.full((8, 8, 3), 100, np.uint8)
    assert psnr(a, a + 1, 255) == pytest.approx(10 * np.log10(255**2), abs=1e-12)


def test_psnr_of_identical_images_is_infinite():
    a = smooth_noisy_rgb(16, 16)
    assert psnr(a, a, 255) == float("inf")


def test_psnr_does_not_wrap_around_uint8():
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 255, np.uint8)
    assert psnr(a, b, 255) == pytest.approx(0.0, abs=1e-12)
    assert psnr(b, a, 255) == pytest.approx(0.0, abs=1e-12)


def test_psnr_uses_the_given_peak_and_rejects_shape_mismatch():
    a = np.full((8, 8, 3), 1000, np.uint16)
    assert psnr(a, a + 1, 65535) == pytest.approx(10 * np.log10(65535**2), abs=1e-9)
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(a, a[:4], 65535)


def test_ms_ssim_of_identical_images_is_one():
    a = smooth_noisy_rgb(176, 176)
    assert ms_ssim(a, a, 255) == pytest.approx(1.0, abs=1e-12)


def test_ms_ssim_falls_as_noise_grows_and_is_symmetric():
    a = smooth_noisy_rgb(176, 190)  # odd-sized coarse scales too
    mild, strong = _add_noise(a, 5.0), _add_noise(a, 25.0)
    assert 1.0 > ms_ssim(a, mild, 255) > ms_ssim(a, strong, 255) > 0.0
    assert ms_ssim(a, mild, 255) == pytest.approx(ms_ssim(mild, a, 255), abs=1e-12)


def test_ms_ssim_accepts_grayscale():
    a = smooth_noisy_rgb(176, 176)[..., 0]
    assert 0.0 < ms_ssim(a, _add_noise(a, 10.0), 255) < 1.0


def test_ms_ssim_needs_161_pixels_per_side():
    assert MS_SSIM_MIN_SIDE == 161
    a = smooth_noisy_rgb(161, 200)
    assert ms_ssim(a, a, 255) == pytest.approx(1.0)
    assert ms_ssim(a[:160], a[:160], 255) is None
