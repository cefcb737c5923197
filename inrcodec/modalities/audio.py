"""Audio: WAV/FLAC/OGG through soundfile, mono to 8 channels, any sample rate, 8- to 32-bit
integer or float samples. The network maps time in [-1, 1] to one value per channel."""

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

MAX_CHANNELS = 8
MAX_SAMPLE_RATE = 384_000
MAX_FRAMES = 1 << 28  # 1.7 h at 44.1 kHz; bounds the decoder's allocation
# Loudness weighting of the fit (Audio.loss_weights): the span over which loud sound masks
# noise near it, and the range below the loudest moment that the weights follow.
LOUDNESS_WINDOW_S = 0.02
LOUDNESS_RANGE_DB = 30.0
# Samples in [-1, 1] span 2.0: PSNR = 10 log10(2^2 / MSE), the COIN++ convention.
PEAK_TO_PEAK = 2.0

# Frozen wire codes of sample formats (soundfile subtype names); 0: any other subtype, which
# is written back in the output format's default subtype.
SUBTYPE_CODES = {"PCM_S8": 1, "PCM_U8": 2, "PCM_16": 3, "PCM_24": 4, "PCM_32": 5, "FLOAT": 6, "DOUBLE": 7,
                 "VORBIS": 8, "OPUS": 9}
SUBTYPES = {code: name for name, code in SUBTYPE_CODES.items()}
# Integer formats whose grid float32 holds exactly: decoded samples are rounded to it.
PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24}


class Audio(Modality):
    name = "audio"
    wire_code = 2
    coord_dim = 1
    extensions = (".wav", ".flac", ".ogg")
    default_suffix = ".wav"
    segment_fields = ("sample_rate", "channels", "subtype")  # what every segment shares with the whole
    rate_unit = "kbps"
    spectral_side_info = True

    def read(self, path: Path) -> Signal:
        import soundfile as sf

        path = check_readable_file(path)
        try:
            with sf.SoundFile(path) as f:
                meta = _checked_meta(f.samplerate, f.channels, f.frames, f.subtype, path)
                data = f.read(dtype="float32", always_2d=True)
        except InputError:
            raise
        except Exception as exc:  # libsndfile reports every unreadable file as a RuntimeError
            raise InputError(f"{path}: not a readable audio file ({type(exc).__name__}: {str(exc)[:120]})") from None
        return Signal("audio", _checked_samples(data, path), dict(meta, frames=data.shape[0]))

    def write(self, signal: Signal, path: Path) -> None:
        import soundfile as sf

        fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}.get(Path(path).suffix.lower())
        if fmt is None:
            raise OutputError(f"{path}: cannot write audio as {Path(path).suffix or '(no extension)'}; use .wav, .flac or .ogg")
        subtype = signal.meta.get("subtype")
        if subtype is None or not sf.check_format(fmt, subtype):
            subtype = sf.default_subtype(fmt)  # e.g. float input written as FLAC: 16-bit
        try:
            sf.write(path, signal.data, signal.meta["sample_rate"], subtype=subtype, format=fmt)
        except Exception as exc:
            raise OutputError(f"{path}: cannot write audio ({type(exc).__name__}: {str(exc)[:120]})") from None

    def samples(self, signal: Signal) -> tuple[np.ndarray, np.ndarray]:
        return grid_coords([(signal.data.shape[0], 1.0)]), np.asarray(signal.data, np.float32)

    def resolution(self, meta: dict[str, Any]) -> int:
        return meta["frames"]

    def render_shape(self, meta: dict[str, Any], scale: float, fps_scale: float = 1.0) -> tuple[int]:
        return (max(1, round(meta["frames"] * scale)),)

    def render_axes(self, meta: dict[str, Any], scale: float, fps_scale: float = 1.0) -> list[tuple[int, float]]:
        # The same instants in [-1, 1] at any rendering rate.
        return [(self.render_shape(meta, scale)[0], 1.0)]

    def output_values(self, values: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
        data = np.clip(np.asarray(values, np.float32), -1.0, 1.0)
        bits = PCM_BITS.get(meta.get("subtype"))
        if bits:  # exactly what the written file will hold, so that metrics measure that
            full = 2.0 ** (bits - 1)
            data = (np.clip(np.round(data * full), -full, full - 1) / full).astype(np.float32)
        return data

    def signal_of(self, samples: np.ndarray, meta: dict[str, Any], scale: float, fps_scale: float = 1.0) -> Signal:
        # Rendering at ``scale`` times the samples is rendering at ``scale`` times the rate.
        out = dict(meta, frames=samples.shape[0], sample_rate=max(1, round(meta["sample_rate"] * scale)))
        return Signal("audio", samples, out)

    def metrics(self, original: Signal, decoded: Signal) -> dict[str, float]:
        return {"psnr": metrics.psnr(original.data, decoded.data, PEAK_TO_PEAK),
                "snr": metrics.snr(original.data, decoded.data)}

    def rate(self, nbytes: int, meta: dict[str, Any]) -> dict[str, float]:
        return {"kbps": 8.0 * nbytes / duration(meta) / 1000.0}

    def sample_count(self, meta: dict[str, Any]) -> int:
        return meta["frames"]

    def budget_bits(self, target: float, meta: dict[str, Any]) -> float:
        return target * 1000.0 * duration(meta)

    def write_meta(self, meta: dict[str, Any], w: Writer) -> None:
        w.uvarint(meta["sample_rate"])
        w.uvarint(meta["channels"])
        w.uvarint(meta["frames"])
        w.uvarint(SUBTYPE_CODES.get(meta.get("subtype"), 0))

    def read_meta(self, r: Reader) -> dict[str, Any]:
        rate, channels = r.uvarint(limit=MAX_SAMPLE_RATE), r.uvarint(limit=MAX_CHANNELS)
        frames, code = r.uvarint(limit=MAX_FRAMES), r.uvarint(limit=255)
        if rate == 0 or channels == 0 or frames == 0 or (code and code not in SUBTYPES):
            raise FormatError(f"audio header out of bounds ({rate} Hz, {channels} ch, {frames} frames, format {code})")
        return {"sample_rate": rate, "channels": channels, "frames": frames, "subtype": SUBTYPES.get(code)}

    def loss_weights(self, targets: np.ndarray, meta: dict[str, Any], strength: float) -> np.ndarray | None:
        """Noise is masked by loud sound near it in time and heard in pauses and soft
        passages: the squared error is divided by the local power (mean square over
        ``LOUDNESS_WINDOW_S``, floored ``LOUDNESS_RANGE_DB`` below the loudest) to the power
        ``strength``, so the fit keeps the error at a steadier ratio to the signal."""
        if strength <= 0:
            return None
        window = max(1, round(LOUDNESS_WINDOW_S * meta["sample_rate"]))
        power = np.mean(np.asarray(targets, np.float64) ** 2, axis=2)  # (P, N)
        kernel = np.ones(window) / window
        local = np.stack([np.convolve(p, kernel, mode="same") for p in power])
        floor = local.max(axis=1, keepdims=True) * 10 ** (-LOUDNESS_RANGE_DB / 10) + 1e-12
        weights = (local + floor) ** -strength
        return (weights / weights.mean(axis=1, keepdims=True)).astype(np.float32)

    def search_target(self, signal: Signal) -> tuple[np.ndarray, float]:
        return np.asarray(signal.data, np.float32), PEAK_TO_PEAK

    def search_output(self, values, peak: float):
        return values.clip(-1.0, 1.0)


def duration(meta: dict[str, Any]) -> float:
    """Length in seconds."""
    return meta["frames"] / meta["sample_rate"]


def _checked_meta(rate: int, channels: int, frames: int, subtype: str, path: Path) -> dict[str, Any]:
    """Header facts of an input file, rejected before its samples are read if out of range."""
    if not 1 <= rate <= MAX_SAMPLE_RATE:
        raise InputError(f"{path}: sample rate {rate} Hz outside 1..{MAX_SAMPLE_RATE}")
    if not 1 <= channels <= MAX_CHANNELS:
        raise InputError(f"{path}: {channels} channels; 1 to {MAX_CHANNELS} are supported")
    if frames > MAX_FRAMES:
        raise InputError(f"{path}: {frames} samples per channel; at most {MAX_FRAMES} are supported")
    return {"sample_rate": int(rate), "channels": int(channels), "frames": int(frames),
            "subtype": subtype if subtype in SUBTYPE_CODES else None}


def _checked_samples(data: np.ndarray, path: Path) -> np.ndarray:
    if data.shape[0] == 0:
        raise InputError(f"{path}: audio has no samples")
    if not np.all(np.isfinite(data)):
        raise InputError(f"{path}: audio contains NaN or infinite samples")
    # Float files may exceed full scale; the codec represents [-1, 1], as PCM does.
    return np.ascontiguousarray(np.clip(data, -1.0, 1.0))


AUDIO = register(Audio())
