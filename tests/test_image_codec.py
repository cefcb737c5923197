"""End-to-end behaviour of the image codec on tiny real crops."""

import os
import zlib

import numpy as np
import pytest

import inrcodec
from inrcodec import container
from tests.conftest import FAST, image_signal

SIREN = ("arch.name=siren", "arch.width=24", "arch.depth=2", "fit.lr=0.001", "fit.steps=150", "fit.steps_per_call=50")


def _beats_flat_grey(signal, decoded) -> bool:
    flat = np.full_like(signal.data, int(signal.data.mean()))
    flat_mse = np.mean((flat.astype(float) - signal.data) ** 2)
    return np.mean((decoded.data.astype(float) - signal.data) ** 2) < 0.8 * flat_mse


@pytest.mark.parametrize("arch", ["hashgrid", "siren"])
def test_round_trip_of_each_architecture_beats_a_flat_grey_image(arch, coded_image):
    if arch == "hashgrid":
        signal, report = coded_image
    else:
        signal = image_signal()
        report = inrcodec.encode_report(signal, overrides=SIREN)
    assert inrcodec.info(report.blob)["architecture"]["name"] == arch
    decoded = inrcodec.decode(report.blob)
    assert decoded.data.shape == signal.data.shape and decoded.data.dtype == np.uint8
    assert _beats_flat_grey(signal, decoded)


def test_rate_equals_file_size(coded_image, tmp_path):
    _, report = coded_image
    path = tmp_path / "tiny.inrc"
    path.write_bytes(report.blob)
    bpp = 8 * os.path.getsize(path) / (32 * 32)
    assert report.rate["bpp"] == pytest.approx(bpp)
    assert inrcodec.info(path)["rate"]["bpp"] == pytest.approx(bpp)


def test_bpp_target_bounds_the_real_file_size():
    signal = image_signal()
    for target in (1.0, 3.0):
        blob = inrcodec.encode(signal, bpp=target, overrides=FAST)
        assert 8 * len(blob) <= target * 32 * 32


def test_a_file_over_its_target_is_an_error_never_returned(coded_image):
    # The check after every codec's last resort: whatever a codec hands back must fit.
    from inrcodec.api import make_config, within_target
    from inrcodec.codecs import Encoded
    from inrcodec.errors import ConfigError

    signal, report = coded_image
    encoded = Encoded(report.blob, None, 0.0, 0.0, 1)
    bpp = 8 * len(report.blob) / (32 * 32)
    assert within_target(encoded, signal, make_config("image", target=bpp, overrides=FAST)) is encoded
    with pytest.raises(ConfigError, match=f"smallest file reached takes {len(report.blob)} bytes"):
        within_target(encoded, signal, make_config("image", target=0.99 * bpp, overrides=FAST))


def test_same_seed_gives_same_bytes_and_same_bytes_give_identical_integers():
    signal = image_signal()
    first = inrcodec.encode(signal, seed=3, overrides=FAST)
    assert inrcodec.encode(signal, seed=3, overrides=FAST) == first
    a, b = inrcodec.decode_integers(first), inrcodec.decode_integers(bytes(first))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("channels,dtype", [(1, np.uint8), (2, np.uint8), (4, np.uint8), (3, np.uint16)])
def test_modes_and_bit_depths_survive_the_round_trip(channels, dtype):
    signal = image_signal(16, channels, dtype)
    decoded = inrcodec.decode(inrcodec.encode(signal, overrides=FAST))
    assert decoded.data.shape == (16, 16, channels) and decoded.data.dtype == dtype
    assert decoded.meta["bits"] == signal.meta["bits"]


def test_decode_renders_at_another_scale(coded_image):
    blob = coded_image[1].blob
    assert inrcodec.decode(blob, scale=2).data.shape == (64, 64, 3)
    assert inrcodec.decode(blob, scale=0.5).data.shape == (16, 16, 3)


def _chunks_of(blob: bytes) -> tuple[dict[int, int], int]:
    """Read the container's framing by hand: (chunk tag -> body length, framing bytes)."""
    assert blob[:4] == b"INRC" and zlib.crc32(blob[:-4]) == int.from_bytes(blob[-4:], "little")
    position, lengths = 6, {}  # magic, major, minor
    while position < len(blob) - 4:
        tag, position = blob[position], position + 1
        length, shift = 0, 0
        while True:  # LEB128 length prefix
            byte, position = blob[position], position + 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        lengths[tag] = length
        position += length
    assert position == len(blob) - 4
    return lengths, len(blob) - sum(lengths.values())


def test_info_reports_architecture_tensors_and_byte_breakdown(coded_image, tmp_path):
    path = tmp_path / "tiny.inrc"
    path.write_bytes(coded_image[1].blob)
    header = inrcodec.info(path)
    assert header["modality"] == "image" and header["architecture"]["name"] == "hashgrid"
    assert header["macs_per_sample"] > 0 and len(header["tensors"]) > 2
    lengths, framing = _chunks_of(path.read_bytes())
    assert header["bytes"] == {"total": path.stat().st_size, "signal": lengths[container.TAG_SIGNAL],
                               "model": lengths[container.TAG_MODEL], "tensors": lengths[container.TAG_TENSORS],
                               "payload": lengths[container.TAG_PAYLOAD], "framing": framing}


def test_library_file_round_trip(tiny_png, tmp_path):
    blob = inrcodec.encode(tiny_png, overrides=FAST)
    out = tmp_path / "out.png"
    inrcodec.save(inrcodec.decode(blob), out)
    assert inrcodec.load(out).data.shape == (32, 32, 3)
