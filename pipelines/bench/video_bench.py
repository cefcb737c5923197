"""Video benchmark runs: load clips, code them with baselines or the INR codec, score them.

Every run yields records with one schema, whatever the codec::

    {"codec", "version", "settings", "file", "param", "bytes", "bpp", "kbps", "psnr", "psnr_all",
     "encode_s", "decode_s", "decode_fps"}

``param`` is the swept parameter (CRF of a baseline, target bpp of the INR); ``bpp`` = 8 * bytes
/ (frames * width * height) from the real byte count; ``psnr`` is the mean of the per-frame RGB
PSNRs against the frames ``imageio_ffmpeg.read_frames`` gives for the source.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from inrcodec.modalities.video import VIDEO
from inrcodec.signal import Signal
from pipelines.bench.image_codecs import Coded
from pipelines.bench.inr_jobs import encode_decode
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
    """One INR fit: (codec label, settings, file name, signal, target bpp) -> record; decode_s is
    the steady decode time of one clip (the decoder compiled before it is timed)."""
    import inrcodec

    codec, settings, name, signal, target = arg
    coded = encode_decode(signal, settings, warm_decode=True, bpp=target)
    return _record(codec, inrcodec.__version__, settings, name, target, signal, coded)


def speed_line(summary: dict[str, Any], records: Sequence[dict[str, Any]], label: str) -> str:
    """Mean encode seconds per clip and decode frames per second of the codec under test."""
    own = [r for r in records if r["codec"] == label]
    if not own:
        return ""
    encode = sum(r["encode_s"] for r in own) / len(own)
    fps = sum(r["decode_fps"] for r in own) / len(own)
    return f"{label}: mean encode {encode:.0f} s per clip and rate, decode {fps:.1f} frames/s (library, compiled)"


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
