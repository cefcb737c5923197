"""Image benchmark runs: load test crops, code them with baselines or an INR codec, score them.

Every run yields records with one schema, whatever the codec::

    {"codec", "version", "settings", "file", "param", "bytes", "bpp", "psnr", "ms_ssim",
     "encode_s", "decode_s"}

``param`` is the swept codec parameter (quality, compression ratio, or target bpp for an INR),
``bpp`` = 8 * bytes / pixels, PSNR and MS-SSIM are measured on the uint8 reconstruction, and
``ms_ssim`` is None for images smaller than ``inrcodec.metrics.MS_SSIM_MIN_SIDE`` on a side.
"""

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import imageio.v3 as iio
import numpy as np

from pipelines.bench.image_codecs import Codec, Coded
from pipelines.bench.inr_jobs import encode_decode
from pipelines.bench.report import record_head
from inrcodec.metrics import ms_ssim, psnr

Image = tuple[str, np.ndarray]  # (file name, HxWx3 uint8 RGB)


def load_image_crops(paths: Iterable[str | Path], crop: int | None) -> list[Image]:
    """Read 8-bit images as RGB (alpha dropped, gray replicated), centre-cropped to crop x crop.

    ``crop=None`` keeps the whole image. Raises ValueError for other bit depths or when an
    image is smaller than the crop.
    """
    images = []
    for path in map(Path, paths):
        rgb = _to_rgb8(iio.imread(path), path)
        if crop is not None:
            rgb = _centre_crop(rgb, crop, path)
        images.append((path.name, np.ascontiguousarray(rgb)))
    return images


def run_baselines(images: Sequence[Image], codecs: Sequence[Codec]) -> list[dict[str, Any]]:
    """Code every image with every codec at each of the codec's ``qualities``."""
    records = []
    for codec in codecs:
        for name, rgb in images:
            for q in codec.qualities:
                coded = codec.encode_decode(rgb, q)
                records.append(
                    _record(codec.name, codec.version, codec.settings, name, q, rgb, coded)
                )
    return records


def fit_job(arg) -> dict[str, Any]:
    """One INR fit: (codec label, settings, file name, HxWx3 uint8 image, target bpp) -> record."""
    import inrcodec

    codec, settings, name, rgb, target = arg
    h, w, c = rgb.shape
    signal = inrcodec.Signal("image", rgb, {"height": h, "width": w, "channels": c, "bits": 8})
    coded = encode_decode(signal, settings, bpp=target)
    return _record(codec, inrcodec.__version__, settings, name, target, rgb, coded)


def run_inr(
    images: Sequence[Image],
    rate_points: Sequence[float],
    encode_fn: Callable[[np.ndarray, float], bytes],
    decode_fn: Callable[[bytes], np.ndarray],
    *,
    codec: str,
    version: str,
    settings: dict[str, Any],
) -> list[dict[str, Any]]:
    """Code every image at each target bpp with caller-supplied functions.

    ``encode_fn(rgb_uint8, bpp_target) -> bytes`` and ``decode_fn(bytes) -> HxWx3 uint8``;
    the record's ``param`` is the target, its ``bpp`` the rate actually spent.
    """
    records = []
    for name, rgb in images:
        for target in rate_points:
            start = time.perf_counter()
            data = encode_fn(rgb, target)
            encode_s = time.perf_counter() - start
            start = time.perf_counter()
            decoded = np.asarray(decode_fn(data))
            decode_s = time.perf_counter() - start
            coded = Coded(data, decoded, encode_s, decode_s)
            records.append(_record(codec, version, settings, name, target, rgb, coded))
    return records


def _record(
    codec: str,
    version: str,
    settings: dict[str, Any],
    file: str,
    param: float,
    original: np.ndarray,
    coded: Coded,
) -> dict[str, Any]:
    if coded.decoded.shape != original.shape:
        raise ValueError(
            f"{codec} on {file}: decoded shape {coded.decoded.shape} != {original.shape}"
        )
    height, width = original.shape[:2]
    return {
        **record_head(codec, version, settings, file, param, len(coded.data)),
        "bpp": 8 * len(coded.data) / (height * width),
        "psnr": psnr(original, coded.decoded, 255),
        "ms_ssim": ms_ssim(original, coded.decoded, 255),
        "encode_s": coded.encode_s,
        "decode_s": coded.decode_s,
    }


def _to_rgb8(image: np.ndarray, path: Path) -> np.ndarray:
    if image.dtype != np.uint8:
        raise ValueError(f"{path}: expected 8 bits per channel, got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    channels = image.shape[2]
    if channels in (1, 2):  # gray, gray + alpha
        return np.repeat(image[..., :1], 3, axis=2)
    if channels in (3, 4):  # RGB, RGBA
        return image[..., :3]
    raise ValueError(f"{path}: unsupported image shape {image.shape}")


def _centre_crop(image: np.ndarray, crop: int, path: Path) -> np.ndarray:
    height, width = image.shape[:2]
    if crop > min(height, width):
        raise ValueError(f"{path}: {height}x{width} image is smaller than the {crop} crop")
    top, left = (height - crop) // 2, (width - crop) // 2
    return image[top : top + crop, left : left + crop]
