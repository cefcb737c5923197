"""Baseline image codecs behind one small interface (CompressAI ``utils/bench`` style).

Every codec encodes an HxWx3 uint8 RGB array at one parameter value ``q`` and decodes it again;
the byte count is the whole file exactly as the encoder wrote it (headers included), so that
bpp = 8 * len(data) / pixels is comparable with the size of an ``.inrc`` file. The default
``qualities`` of each codec span roughly 0.1 to 3 bpp on 256x256 photo crops.
"""

import abc
import io
import time
from typing import Any, ClassVar, NamedTuple

import numpy as np
import PIL
from PIL import AvifImagePlugin, Image, features


class Coded(NamedTuple):
    """One encode/decode round trip: file bytes, uint8 reconstruction, wall-clock seconds."""

    data: bytes
    decoded: np.ndarray
    encode_s: float
    decode_s: float


class Codec(abc.ABC):
    """A baseline codec: ``name``, ``version``, ``settings``, default sweep ``qualities``.

    ``qualities`` are ordered from the lowest to the highest quality (and rate).
    """

    name: ClassVar[str]
    qualities: ClassVar[tuple[float, ...]]

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """Library versions that determine the bytes written."""

    @property
    @abc.abstractmethod
    def settings(self) -> dict[str, Any]:
        """Every fixed encoder option, and what the swept parameter ``q`` means."""

    @abc.abstractmethod
    def encode_decode(self, rgb: np.ndarray, q: float) -> Coded:
        """Encode ``rgb`` (HxWx3 uint8) at parameter ``q`` and decode it again."""


class PillowCodec(Codec):
    """A codec reached through ``PIL.Image.save``; subclasses give format and options."""

    format: ClassVar[str]
    param: ClassVar[str]  # what q means, written into ``settings``

    def __init__(self, **options: Any) -> None:
        self.options = options

    @property
    def version(self) -> str:
        return f"Pillow {PIL.__version__}; {self.library()}"

    @abc.abstractmethod
    def library(self) -> str:
        """Name and version of the library behind the Pillow plugin."""

    @property
    def settings(self) -> dict[str, Any]:
        return {"format": self.format, "param": self.param, **self.options}

    def save_options(self, q: float) -> dict[str, Any]:
        """Keyword arguments for ``Image.save`` at parameter ``q``."""
        return {"quality": int(q), **self.options}

    def encode_decode(self, rgb: np.ndarray, q: float) -> Coded:
        image = Image.fromarray(_check_rgb8(rgb))
        kwargs = self.save_options(q)
        buffer = io.BytesIO()
        start = time.perf_counter()
        image.save(buffer, format=self.format, **kwargs)
        encode_s = time.perf_counter() - start
        data = buffer.getvalue()
        start = time.perf_counter()
        with Image.open(io.BytesIO(data)) as decoded_image:
            decoded = np.asarray(decoded_image.convert("RGB"))
        decode_s = time.perf_counter() - start
        return Coded(data, decoded, encode_s, decode_s)


class JpegCodec(PillowCodec):
    """JPEG with Pillow's defaults: 4:2:0 chroma subsampling, standard Huffman tables."""

    name = "jpeg"
    format = "JPEG"
    param = "quality"
    # Starts at 3: below, the baseline quantization tables saturate (q=1 and 2: same file).
    qualities = (3, 5, 10, 20, 30, 45, 60, 75, 85, 92)

    def __init__(self, optimize: bool = False) -> None:
        # 4:2:0 is libjpeg's default too; stated so that the record says it.
        super().__init__(subsampling="4:2:0", optimize=optimize)

    def library(self) -> str:
        if features.check_feature("libjpeg_turbo"):
            return f"libjpeg-turbo {features.version_feature('libjpeg_turbo')}"
        return f"libjpeg {features.version('jpg')}"


class JpegOptCodec(JpegCodec):
    """JPEG with optimised Huffman tables (``optimize=True``); same pixels, fewer bytes."""

    name = "jpeg-opt"

    def __init__(self) -> None:
        super().__init__(optimize=True)


class WebpCodec(PillowCodec):
    """Lossy WebP at the slowest, best-compressing method (6)."""

    name = "webp"
    format = "WEBP"
    param = "quality"
    qualities = (0, 5, 15, 30, 45, 60, 75, 85, 90, 94)

    def __init__(self) -> None:
        super().__init__(method=6, lossless=False)

    def library(self) -> str:
        return f"libwebp {features.version('webp')}"


class AvifCodec(PillowCodec):
    """AVIF through libavif + libaom. Pillow's ``quality`` is libavif's 0-100 quality scale
    (100 = lossless), which libavif maps onto the AV1 quantizer; ``speed`` 0 is slowest."""

    name = "avif"
    format = "AVIF"
    param = "quality"
    qualities = (5, 15, 25, 35, 45, 55, 65, 75, 85, 92)

    def __init__(self, speed: int = 4) -> None:
        # One thread: timings comparable across machines and with single-threaded decoders.
        super().__init__(codec="aom", speed=speed, subsampling="4:2:0", range="full", max_threads=1)

    def library(self) -> str:
        aom = AvifImagePlugin.get_codec_version("aom")
        return f"libavif {features.version('avif')}; aom {aom}"


class Jpeg2000Codec(PillowCodec):
    """JPEG 2000 (OpenJPEG, .jp2 file): 9/7 wavelet, colour transform, one rate-controlled
    layer whose target is the compression ratio ``q`` (uncompressed 24-bit size / file size)."""

    name = "jpeg2000"
    format = "JPEG2000"
    param = "compression ratio (quality_layers=[q])"
    qualities = (240, 160, 100, 64, 40, 28, 20, 14, 10, 8)

    def __init__(self) -> None:
        # mct=1 is what opj_compress does for RGB; Pillow's default 0 would code R, G, B apart.
        super().__init__(quality_mode="rates", irreversible=True, mct=1)

    def library(self) -> str:
        return f"OpenJPEG {features.version('jpg_2000')}"

    def save_options(self, q: float) -> dict[str, Any]:
        return {"quality_layers": [float(q)], **self.options}


class JpegXLCodec(Codec):
    """JPEG XL through libjxl (imagecodecs): lossy VarDCT at encoder effort 7 (libjxl's default),
    rate set by the Butteraugli ``distance`` ``q`` (lower is better; 1.0 is about visually
    lossless). Pillow has no JPEG XL plugin, hence imagecodecs."""

    name = "jpegxl"
    format = "JPEG XL"
    param = "Butteraugli distance"
    qualities = (25.0, 16.0, 12.0, 8.0, 6.0, 4.0, 3.0, 2.0, 1.5, 1.0, 0.7, 0.5)
    effort = 7

    @property
    def version(self) -> str:
        import imagecodecs  # the bench extra; `inrcodec bench` checks for it first

        return f"imagecodecs {imagecodecs.__version__}; {imagecodecs.jpegxl_version()}"

    @property
    def settings(self) -> dict[str, Any]:
        return {"format": self.format, "param": self.param, "effort": self.effort, "lossless": False}

    def encode_decode(self, rgb: np.ndarray, q: float) -> Coded:
        import imagecodecs

        rgb = _check_rgb8(rgb)
        start = time.perf_counter()
        data = bytes(imagecodecs.jpegxl_encode(rgb, distance=float(q), effort=self.effort, lossless=False))
        encode_s = time.perf_counter() - start
        start = time.perf_counter()
        decoded = np.asarray(imagecodecs.jpegxl_decode(data), np.uint8)
        return Coded(data, decoded, encode_s, time.perf_counter() - start)


IMAGE_CODECS: dict[str, type[Codec]] = {
    codec.name: codec for codec in (JpegCodec, JpegOptCodec, WebpCodec, AvifCodec, Jpeg2000Codec, JpegXLCodec)
}


def _check_rgb8(rgb: np.ndarray) -> np.ndarray:
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 array, got {rgb.dtype} {rgb.shape}")
    return np.ascontiguousarray(rgb)
