"""Video benchmark runs: load clips, code them with baselines or the INR codec, score them.

Every run yields records with one schema, whatever the codec::

    {"codec", "version", "settings", "file", "param", "bytes", "bpp", "kbps", "psnr", "psnr_all",
     "encode_s", "decode_s", "decode_fps"}

``param`` is the swept parameter (CRF of a baseline, target bpp of the INR); ``bpp`` = 8 * bytes
/ (frames * width * height) from the real byte count; ``psnr`` is the mean of the per-frame RGB
PSNRs against the frames ``imageio_ffmpeg.read_frames`` gives for the source.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from inrcodec.modalities.video import VIDEO
from inrcodec.signal import Signal
from pipelines.bench.image_codecs import Coded
from pipelines.bench.report import record_head
from pipelines.bench.video_codecs import VideoCodec

Clip = tuple[str, Signal]  # (file name, video signal); the path is in meta["source"]


def load_clips(paths: Iterable[str | Path]) -> list[Clip]:
    """Read video files (every frame, as 8-bit RGB)."""
    clips = []
    for path in map(Path, paths):
        signal = VIDEO.read(path)
        signal.meta["source"] = str(path)
        clips.append((path.name, signal))
    return clips


def run_baselines(clips: Sequence[Clip], codecs: Sequence[VideoCodec]) -> list[dict[str, Any]]:
    """Code every clip with every codec at each of the codec's ``qualities``."""
    records = []
    for codec in codecs:
        for name, signal in clips:
            frames, height, width, _ = signal.data.shape
            for q in codec.qualities:
                coded = codec.encode_decode(Path(signal.meta["source"]), frames, height, width, q)
                records.append(_record(codec.name, codec.version, codec.settings, name, q, signal, coded))
    return records


def fit_job(arg) -> dict[str, Any]:
    """One INR fit: (codec label, settings, file name, signal, target bpp) -> record."""
    import inrcodec

    codec, settings, name, signal, target = arg
    start = time.perf_counter()
    blob = inrcodec.encode(signal, bpp=target, config=settings["config"], steps=settings["steps"],
                           overrides=settings["overrides"])
    encode_s = time.perf_counter() - start
    inrcodec.decode(blob)  # compile once: decode_s is the steady decode time of one clip
    start = time.perf_counter()
    decoded = inrcodec.decode(blob).data
    decode_s = time.perf_counter() - start
    return _record(codec, inrcodec.__version__, settings, name, target, signal, Coded(blob, decoded, encode_s, decode_s))


def _record(codec: str, version: str, settings: dict[str, Any], file: str, param: float, original: Signal,
            coded: Coded) -> dict[str, Any]:
    if coded.decoded.shape != original.data.shape:
        raise ValueError(f"{codec} on {file}: decoded shape {coded.decoded.shape} != {original.data.shape}")
    meta = {k: v for k, v in original.meta.items() if k != "source"}
    quality = VIDEO.metrics(original, Signal("video", coded.decoded, meta))
    return {
        **record_head(codec, version, settings, file, param, len(coded.data)),
        **VIDEO.rate(len(coded.data), meta),
        **quality,
        "encode_s": coded.encode_s,
        "decode_s": coded.decode_s,
        "decode_fps": meta["frames"] / coded.decode_s if coded.decode_s > 0 else None,
    }
