"""Images: PNG/JPEG/TIFF/…, grayscale, gray+alpha, RGB, RGBA, 8- and 16-bit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from inrcodec import metrics
from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import FormatError, InputError, OutputError
from inrcodec.files import check_readable_file
from inrcodec.modalities.base import Modality, grid_coords
from inrcodec.modalities.registry import register
from inrcodec.signal import Signal

MAX_PIXELS = 1 << 28
MAX_SIDE = 1 << 16


class Image(Modality):
    name = "image"
    wire_code = 1
    coord_dim = 2
    extensions = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".ppm", ".pgm", ".gif")
    default_suffix = ".png"
    rate_unit = "bpp"

    def read(self, path: Path) -> Signal:
        import imageio.v3 as iio

        path = check_readable_file(path)
        try:
            data = _read_png16(path) if _is_png16(path) else np.asarray(iio.imread(path))
        except Exception as exc:  # imageio raises many types for unreadable files
            reason = "no image format recognised in its bytes" if "backend" in str(exc) else _first_line(exc)
            raise InputError(f"{path}: not a readable image ({reason}); check the file is a valid image") from None
        return Signal("image", *_normalise_array(data, path))

    def write(self, signal: Signal, path: Path) -> None:
        import imageio.v3 as iio

        data = signal.data[..., 0] if signal.data.shape[-1] == 1 else signal.data
        suffix = Path(path).suffix.lower() or ".png"
        try:
            if suffix == ".png" and data.dtype == np.uint16:
                _write_png16(signal.data, path)
            else:
                iio.imwrite(path, data, extension=suffix)
        except Exception as exc:
            raise OutputError(f"{path}: cannot write image ({_first_line(exc)})") from None

    def samples(self, signal: Signal) -> tuple[np.ndarray, np.ndarray]:
        h, w, c = signal.data.shape
        coords = grid_coords([(w, 1.0), (h, 1.0)])
        targets = signal.data.reshape(h * w, c).astype(np.float32) / _peak(signal.meta) - 0.5
        return coords, targets

    def resolution(self, meta: dict[str, Any]) -> int:
        return max(meta["height"], meta["width"])

    def render_shape(self, meta: dict[str, Any], scale: float, fps_scale: float = 1.0) -> tuple[int, int]:
        return max(1, round(meta["height"] * scale)), max(1, round(meta["width"] * scale))

    def render_axes(self, meta: dict[str, Any], scale: float, fps_scale: float = 1.0) -> list[tuple[int, float]]:
        h, w = self.render_shape(meta, scale)
        return [(w, 1.0), (h, 1.0)]

    def output_values(self, values: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
        peak = _peak(meta)
        ints = np.clip(np.round((np.asarray(values, np.float64) + 0.5) * peak), 0, peak)
        return ints.astype(np.uint16 if meta["bits"] == 16 else np.uint8)

    def signal_of(self, samples: np.ndarray, meta: dict[str, Any], scale: float, fps_scale: float = 1.0) -> Signal:
        h, w = self.render_shape(meta, scale)
        return Signal("image", samples.reshape(h, w, meta["channels"]), dict(meta))

    def metrics(self, original: Signal, decoded: Signal) -> dict[str, float]:
        peak = _peak(original.meta)
        out = {"psnr": metrics.psnr(original.data, decoded.data, peak)}
        ms = metrics.ms_ssim(original.data, decoded.data, peak)
        if ms is not None:
            out["ms_ssim"] = ms
        return out

    def rate(self, nbytes: int, meta: dict[str, Any]) -> dict[str, float]:
        return {"bpp": 8.0 * nbytes / self.sample_count(meta)}

    def sample_count(self, meta: dict[str, Any]) -> int:
        return meta["height"] * meta["width"]

    def budget_bits(self, target: float, meta: dict[str, Any]) -> float:
        return target * self.sample_count(meta)

    def write_meta(self, meta: dict[str, Any], w: Writer) -> None:
        w.uvarint(meta["height"])
        w.uvarint(meta["width"])
        w.uvarint(meta["channels"])
        w.uvarint(meta["bits"])

    def read_meta(self, r: Reader) -> dict[str, Any]:
        h, w = r.uvarint(limit=MAX_SIDE), r.uvarint(limit=MAX_SIDE)
        c, bits = r.uvarint(limit=4), r.uvarint(limit=16)
        if h == 0 or w == 0 or c == 0 or bits not in (8, 16) or h * w > MAX_PIXELS:
            raise FormatError(f"image header out of bounds ({h}x{w}x{c}, {bits}-bit)")
        return {"height": h, "width": w, "channels": c, "bits": bits}

    def search_target(self, signal: Signal) -> tuple[np.ndarray, float]:
        return signal.data.reshape(-1, signal.data.shape[-1]).astype(np.float32), float(_peak(signal.meta))

    def search_output(self, values, peak: float):
        return ((values + 0.5) * peak).round().clip(0.0, peak)


# 16-bit PNGs go through pypng: Pillow (behind imageio) reads 16-bit colour PNGs as 8-bit
# and cannot write them.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_png16(path: Path) -> bool:
    """Whether the file is a PNG of 16 bits per sample (the IHDR chunk's bit depth)."""
    with open(path, "rb") as f:
        head = f.read(26)
    return head.startswith(_PNG_SIGNATURE) and head[12:16] == b"IHDR" and head[24] == 16


def _read_png16(path: Path) -> np.ndarray:
    import png

    # read(), not asDirect(): asDirect() shifts samples down to an sBIT chunk's depth.
    width, height, rows, info = png.Reader(filename=str(path)).read()
    if width * height > MAX_PIXELS:
        raise InputError(f"{path}: image size {height}x{width} outside the supported range")
    data = np.vstack([np.asarray(row, np.uint16) for row in rows])
    return data.reshape(height, width, info["planes"])


def _write_png16(data: np.ndarray, path: Path) -> None:
    import png

    height, width, channels = data.shape
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels] + ";16"
    png.from_array(np.ascontiguousarray(data).reshape(height, width * channels), mode).save(str(path))


def _normalise_array(data: np.ndarray, path: Path) -> tuple[np.ndarray, dict[str, Any]]:
    if data.ndim == 2:
        data = data[..., None]
    if data.ndim != 3 or data.shape[-1] not in (1, 2, 3, 4):
        raise InputError(f"{path}: unsupported image layout {data.shape}; need HxW or HxWx(1-4)")
    if data.dtype == np.bool_:
        data = data.astype(np.uint8) * 255
    if data.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{path}: unsupported sample type {data.dtype}; need 8- or 16-bit integer pixels")
    h, w, c = data.shape
    if h == 0 or w == 0 or h > MAX_SIDE or w > MAX_SIDE or h * w > MAX_PIXELS:
        raise InputError(f"{path}: image size {h}x{w} outside the supported range")
    bits = 16 if data.dtype == np.uint16 else 8
    return np.ascontiguousarray(data), {"height": h, "width": w, "channels": c, "bits": bits}


def _first_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''}".rstrip(": ")


def _peak(meta: dict[str, Any]) -> int:
    return (1 << meta["bits"]) - 1


IMAGE = register(Image())
