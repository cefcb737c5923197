"""Released files keep decoding: exact integers, and the same picture up to float rounding."""

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

import inrcodec
from tests.golden.make_golden import integer_digest

GOLDEN = Path(__file__).resolve().parent / "golden"
MANIFEST = json.loads((GOLDEN / "GOLDEN.json").read_text())


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_golden_file_decodes_to_the_same_integers_and_image(name):
    blob = (GOLDEN / f"{name}.inrc").read_bytes()
    assert len(blob) == MANIFEST[name]["bytes"]
    assert integer_digest(blob) == MANIFEST[name]["integers_sha256"]
    decoded = inrcodec.decode(blob).data.astype(int)
    expected = iio.imread(GOLDEN / f"{name}.png").astype(int)
    assert decoded.shape == expected.shape
    assert np.max(np.abs(decoded - expected)) <= 1  # float rounding may move a value by one level
