import numpy as np
import pytest

from tests.bench.synthetic import smooth_noisy_rgb


@pytest.fixture
def rgb64() -> np.ndarray:
    """A 64x64 smooth gradient + noise image, the same on every run."""
    return smooth_noisy_rgb(64, 64)
