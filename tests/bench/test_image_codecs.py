import io
import json

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from pipelines.bench.image_codecs import IMAGE_CODECS, JpegCodec, JpegOptCodec
from inrcodec.metrics import psnr

CODECS = list(IMAGE_CODECS.values())


def _decode_file(data: bytes, format: str) -> np.ndarray:
    """The pixels of a complete image file, through a library other than the codec's own path
    where there is one (Pillow reads every format here but JPEG XL; for it, libjxl's own
    signature check and decoder)."""
    if format == "JPEG XL":
        import imagecodecs

        assert imagecodecs.jpegxl_check(data)
        return imagecodecs.imread(data)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == format
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize("codec_class", CODECS, ids=lambda c: c.name)
def test_round_trip_decodes_the_returned_file(codec_class, rgb64):
    codec = codec_class()
    data, decoded, encode_s, decode_s = codec.encode_decode(rgb64, codec.qualities[5])
    assert decoded.dtype == np.uint8 and decoded.shape == rgb64.shape
    # The bytes are a complete file: a decoder alone, given only them, yields the same pixels.
    assert np.array_equal(_decode_file(data, codec.settings["format"]), decoded)
    assert psnr(rgb64, decoded, 255) > 20.0
    assert encode_s > 0 and decode_s > 0


@pytest.mark.parametrize("codec_class", CODECS, ids=lambda c: c.name)
def test_psnr_and_size_grow_along_the_quality_sweep(codec_class, rgb64):
    codec = codec_class()
    sweep = codec.qualities
    coded = [codec.encode_decode(rgb64, q) for q in (sweep[0], sweep[len(sweep) // 2], sweep[-1])]
    psnrs = [psnr(rgb64, c.decoded, 255) for c in coded]
    sizes = [len(c.data) for c in coded]
    assert psnrs[0] < psnrs[1] < psnrs[2]
    assert sizes[0] < sizes[1] < sizes[2]


@pytest.mark.parametrize("codec_class", CODECS, ids=lambda c: c.name)
def test_version_and_settings_describe_the_encoder(codec_class):
    codec = codec_class()
    assert codec.version.startswith("imagecodecs " if codec.name == "jpegxl" else "Pillow ")
    assert {"format", "param"} <= codec.settings.keys()
    json.dumps(codec.settings)  # goes into the results file as is


def test_optimized_jpeg_has_the_same_pixels_in_fewer_bytes(rgb64):
    plain = JpegCodec().encode_decode(rgb64, 75)
    optimized = JpegOptCodec().encode_decode(rgb64, 75)
    assert np.array_equal(plain.decoded, optimized.decoded)
    assert len(optimized.data) < len(plain.data)


def test_jpeg_uses_4_2_0_chroma_subsampling(rgb64):
    data = JpegCodec().encode_decode(rgb64, 75).data
    with Image.open(io.BytesIO(data)) as image:
        assert JpegImagePlugin.get_sampling(image) == 2  # Pillow's code for 4:2:0


@pytest.mark.parametrize(
    "bad", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 3))]
)
def test_non_rgb8_input_is_rejected(bad):
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        JpegCodec().encode_decode(bad, 75)
