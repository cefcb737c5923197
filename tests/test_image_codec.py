"""End-to-end behaviour of the image codec on tiny real crops."""

import numpy as np
import pytest

import inrcodec
from inrcodec.signal import Signal
from tests.conftest import FAST, crop_of_sample


def _signal(size=32, channels=3, dtype=np.uint8) -> Signal:
    data = crop_of_sample(size, channels, dtype)
    bits = 16 if dtype == np.uint16 else 8
    return Signal("image", data, {"height": size, "width": size, "channels": channels, "bits": bits})


@pytest.mark.parametrize("arch", ["hashgrid", "siren"])
def test_round_trip_of_each_architecture_beats_a_flat_grey_image(arch):
    signal = _signal()
    overrides = FAST if arch == "hashgrid" else ("arch.name=siren", "arch.width=24", "arch.depth=2", "fit.lr=0.001", "fit.steps=150", "fit.steps_per_call=50")
    report = inrcodec.encode_report(signal, overrides=overrides)
    decoded = inrcodec.decode(report.blob)
    assert decoded.data.shape == signal.data.shape and decoded.data.dtype == np.uint8
    flat = np.full_like(signal.data, int(signal.data.mean()))
    flat_mse = np.mean((flat.astype(float) - signal.data) ** 2)
    assert np.mean((decoded.data.astype(float) - signal.data) ** 2) < 0.8 * flat_mse


def test_rate_equals_file_size():
    signal = _signal()
    report = inrcodec.encode_report(signal, overrides=FAST)
    assert report.rate["bpp"] == pytest.approx(8 * len(report.blob) / (32 * 32))
    assert inrcodec.info(report.blob)["rate"]["bpp"] == report.rate["bpp"]


def test_bpp_target_bounds_the_real_file_size():
    signal = _signal()
    for target in (1.0, 3.0):
        blob = inrcodec.encode(signal, bpp=target, overrides=FAST)
        assert 8 * len(blob) <= target * 32 * 32


def test_same_seed_gives_same_bytes_and_same_bytes_give_identical_integers():
    signal = _signal()
    first = inrcodec.encode(signal, seed=3, overrides=FAST)
    assert inrcodec.encode(signal, seed=3, overrides=FAST) == first
    a, b = inrcodec.decode_integers(first), inrcodec.decode_integers(bytes(first))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("channels,dtype", [(1, np.uint8), (2, np.uint8), (4, np.uint8), (3, np.uint16)])
def test_modes_and_bit_depths_survive_the_round_trip(channels, dtype):
    signal = _signal(16, channels, dtype)
    decoded = inrcodec.decode(inrcodec.encode(signal, overrides=FAST))
    assert decoded.data.shape == (16, 16, channels) and decoded.data.dtype == dtype
    assert decoded.meta["bits"] == signal.meta["bits"]


def test_decode_renders_at_another_scale():
    blob = inrcodec.encode(_signal(), overrides=FAST)
    assert inrcodec.decode(blob, scale=2).data.shape == (64, 64, 3)
    assert inrcodec.decode(blob, scale=0.5).data.shape == (16, 16, 3)


def test_info_reports_architecture_tensors_and_byte_breakdown():
    blob = inrcodec.encode(_signal(), overrides=FAST)
    header = inrcodec.info(blob)
    assert header["modality"] == "image" and header["architecture"]["name"] == "hashgrid"
    assert header["bytes"]["total"] == len(blob)
    assert sum(v for k, v in header["bytes"].items() if k != "total") == len(blob)
    assert header["macs_per_sample"] > 0 and len(header["tensors"]) > 2


def test_library_file_round_trip(tiny_png, tmp_path):
    blob = inrcodec.encode(tiny_png, overrides=FAST)
    out = tmp_path / "out.png"
    inrcodec.save(inrcodec.decode(blob), out)
    assert inrcodec.load(out).data.shape == (32, 32, 3)
