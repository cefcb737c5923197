import imageio.v3 as iio
import numpy as np
import pytest

from pipelines.bench.image_bench import load_image_crops, run_baselines, run_inr
from pipelines.bench.image_codecs import JpegCodec

from tests.bench.synthetic import smooth_noisy_rgb

SCHEMA = {
    "codec",
    "version",
    "settings",
    "file",
    "param",
    "bytes",
    "bpp",
    "psnr",
    "ms_ssim",
    "encode_s",
    "decode_s",
}


def test_load_centre_crops_rgba_and_replicates_gray(tmp_path):
    rgb = smooth_noisy_rgb(120, 90)
    rgba = np.concatenate([rgb, np.full((120, 90, 1), 7, np.uint8)], axis=2)
    iio.imwrite(tmp_path / "colour.png", rgba)
    iio.imwrite(tmp_path / "gray.png", rgb[..., 1])
    (name_a, a), (name_b, b) = load_image_crops(
        [tmp_path / "colour.png", str(tmp_path / "gray.png")], crop=40
    )
    assert (name_a, name_b) == ("colour.png", "gray.png")
    np.testing.assert_array_equal(a, rgb[40:80, 25:65])
    np.testing.assert_array_equal(b, np.repeat(rgb[40:80, 25:65, 1:2], 3, axis=2))
    assert a.dtype == b.dtype == np.uint8 and a.flags.c_contiguous


def test_load_without_crop_keeps_the_whole_image(tmp_path):
    iio.imwrite(tmp_path / "a.png", smooth_noisy_rgb(30, 20))
    [(_, image)] = load_image_crops([tmp_path / "a.png"], crop=None)
    assert image.shape == (30, 20, 3)


def test_load_rejects_a_crop_larger_than_the_image_and_16_bit(tmp_path):
    iio.imwrite(tmp_path / "a.png", smooth_noisy_rgb(30, 20))
    with pytest.raises(ValueError, match="smaller than the 25 crop"):
        load_image_crops([tmp_path / "a.png"], crop=25)
    iio.imwrite(tmp_path / "deep.png", np.zeros((8, 8), np.uint16))
    with pytest.raises(ValueError, match="8 bits"):
        load_image_crops([tmp_path / "deep.png"], crop=None)


def test_baseline_records_follow_the_schema_and_count_file_bytes(rgb64):
    codec = JpegCodec()
    records = run_baselines([("x.png", rgb64)], [codec])
    assert [r["param"] for r in records] == list(codec.qualities)
    for record in records:
        assert record.keys() == SCHEMA
        assert record["codec"] == "jpeg" and record["file"] == "x.png"
        assert record["bpp"] == 8 * record["bytes"] / (64 * 64)
        assert record["ms_ssim"] is None  # 64 px is too small for 5 scales
    data = codec.encode_decode(rgb64, codec.qualities[0]).data
    assert records[0]["bytes"] == len(data)


def test_ms_ssim_is_recorded_for_large_enough_images():
    image = smooth_noisy_rgb(176, 176)
    [record, *_] = run_baselines([("big.png", image)], [JpegCodec()])
    assert 0.0 < record["ms_ssim"] < 1.0


def test_inr_records_use_the_target_as_param_and_the_real_size_as_rate(rgb64):
    calls = []

    def encode(rgb, bpp):
        calls.append(bpp)
        # Stand-in codec: keep every second pixel, pad to about the target size.
        half = rgb[::2, ::2].tobytes()
        return half + bytes(max(0, int(bpp * 64 * 64 / 8) - len(half)))

    def decode(data):
        half = np.frombuffer(data[: 32 * 32 * 3], np.uint8).reshape(32, 32, 3)
        return half.repeat(2, axis=0).repeat(2, axis=1)

    records = run_inr(
        [("x.png", rgb64)],
        [1.0, 8.0],
        encode,
        decode,
        codec="inr-test",
        version="0.0",
        settings={"steps": 1},
    )
    assert calls == [1.0, 8.0]
    assert [r["param"] for r in records] == [1.0, 8.0]
    assert [r["bpp"] for r in records] == [6.0, 8.0]  # 32*32*3 bytes floor, then padded
    assert all(r.keys() == SCHEMA and r["codec"] == "inr-test" for r in records)
    assert records[0]["psnr"] == records[1]["psnr"] > 10.0


def test_inr_decode_of_the_wrong_shape_is_an_error(rgb64):
    with pytest.raises(ValueError, match="decoded shape"):
        run_inr(
            [("x.png", rgb64)],
            [1.0],
            lambda rgb, bpp: b"\0",
            lambda data: np.zeros((8, 8, 3), np.uint8),
            codec="broken",
            version="0",
            settings={},
        )
