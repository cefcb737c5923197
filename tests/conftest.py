"""Shared fixtures: tiny real image files, a fast codec configuration, and coded files that many
tests share (fitted once per session)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

# One compilation cache for the session, fresh and removed at the end (before JAX is imported,
# so subprocesses and Ray workers inherit it too): the suite fits the same few shapes many
# times, and a fit whose programs are cached takes a third of the time of a cold one.
_XLA_CACHE = tempfile.mkdtemp(prefix="inrcodec-test-xla-")
os.environ["JAX_COMPILATION_CACHE_DIR"] = _XLA_CACHE
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
# The suite's signals are tiny, so compiling is most of its time and running the programs little:
# XLA's backend without LLVM optimisation compiles in about 60 % of the time. It changes how
# fast the programs run, not what they compute (the same files came out, byte for byte).
os.environ["XLA_FLAGS"] = " ".join(filter(None, [os.environ.get("XLA_FLAGS"), "--xla_backend_optimization_level=0"]))


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_XLA_CACHE, ignore_errors=True)


REPO = Path(__file__).resolve().parents[1]
SAMPLE_IMAGE = REPO / "data" / "kodim23-crop256.png"
# A coded image for tests that only need a file to decode.
GOLDEN_IMAGE = REPO / "tests" / "golden" / "image-hashgrid.inrc"
# Options that make a hash-grid fit take about a second on a 32x32 image.
FAST = ("arch.name=hashgrid", "fit.steps=150", "fit.lr=0.05", "fit.steps_per_call=50", "arch.levels=4", "arch.table_size=64")


def crop_of_sample(size: int, channels: int = 3, dtype=np.uint8) -> np.ndarray:
    import imageio.v3 as iio

    image = iio.imread(SAMPLE_IMAGE)[:size, :size]
    if channels == 1:
        image = image[..., :1]
    elif channels == 2:
        image = np.concatenate([image[..., :1], image[..., 1:2]], axis=-1)
    elif channels == 4:
        alpha = np.linspace(0, 255, size * size).reshape(size, size, 1).astype(np.uint8)
        image = np.concatenate([image, alpha], axis=-1)
    if dtype == np.uint16:
        image = image.astype(np.uint16) * 257
    return np.ascontiguousarray(image)


@pytest.fixture
def tiny_png(tmp_path: Path) -> Path:
    import imageio.v3 as iio

    path = tmp_path / "tiny.png"
    iio.imwrite(path, crop_of_sample(32))
    return path


def image_signal(size: int = 32, channels: int = 3, dtype=np.uint8):
    """A crop of the sample image as a Signal."""
    from inrcodec.signal import Signal

    bits = 16 if dtype == np.uint16 else 8
    return Signal("image", crop_of_sample(size, channels, dtype),
                  {"height": size, "width": size, "channels": channels, "bits": bits})


@pytest.fixture(scope="session")
def coded_image():
    """(signal, report): the 32x32 crop coded with FAST, for tests that need a coded image."""
    import inrcodec

    signal = image_signal()
    return signal, inrcodec.encode_report(signal, overrides=FAST)
