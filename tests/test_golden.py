"""Released files keep decoding: exact integers, and the same signal up to float rounding."""

import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import soundfile as sf

import inrcodec
from tests.golden.make_golden import SUFFIX, integer_digest

GOLDEN = Path(__file__).resolve().parent / "golden"
MANIFEST = json.loads((GOLDEN / "GOLDEN.json").read_text())


def _reference(name: str, modality: str) -> np.ndarray:
    path = GOLDEN / f"{name}{SUFFIX[modality]}"
    if modality == "audio":
        return sf.read(path, dtype="int16", always_2d=True)[0].astype(int)
    if modality == "video":  # lossless FFV1
        return inrcodec.load(path).data.astype(int)
    return iio.imread(path).astype(int)


def _as_stored(signal) -> np.ndarray:
    if signal.modality == "audio":  # the codec's 16-bit grid, as the WAV file holds it
        return np.round(signal.data.astype(np.float64) * 32768).astype(int)
    return signal.data.astype(int)


def test_every_modality_has_a_golden_file():
    from inrcodec.modalities import REGISTRY

    assert {entry["modality"] for entry in MANIFEST.values()} >= set(REGISTRY)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_golden_file_decodes_to_the_same_integers_and_signal(name):
    entry = MANIFEST[name]
    blob = (GOLDEN / f"{name}.inrc").read_bytes()
    assert len(blob) == entry["bytes"]
    assert inrcodec.info(blob)["format_version"] == entry["format_version"]
    assert integer_digest(blob) == entry["integers_sha256"]
    if entry["modality"] == "pointcloud":
        _check_point_cloud(inrcodec.decode(blob), GOLDEN / f"{name}.ply")
        return
    decoded = _as_stored(inrcodec.decode(blob))
    expected = _reference(name, entry["modality"])
    assert decoded.shape == expected.shape
    assert np.max(np.abs(decoded - expected)) <= 1  # float rounding may move a value by one level


def _check_point_cloud(decoded, reference_path: Path) -> None:
    """Positions are voxel centres computed from integers: exact. Colours: within one level."""
    from inrcodec.modalities.pointcloud import open3d

    reference = open3d().io.read_point_cloud(str(reference_path))
    assert np.array_equal(decoded.data, np.asarray(reference.points))
    colors = np.round(np.asarray(reference.colors) * 255).astype(int)
    assert np.max(np.abs(decoded.attributes["colors"].astype(int) - colors)) <= 1
