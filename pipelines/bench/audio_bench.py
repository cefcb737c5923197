"""Audio benchmark runs: load clips, code them with baselines or the INR codec, score them.

Every run yields records with one schema, whatever the codec::

    {"codec", "version", "settings", "file", "param", "bytes", "kbps", "psnr", "snr",
     "encode_s", "decode_s"}

``param`` is the swept codec parameter (nominal bitrate of a baseline, target kbit/s of the INR),
``kbps`` = 8 * bytes / duration / 1000 from the real file size, PSNR (samples in [-1, 1], range
2.0, the COIN++ convention) and SNR are measured on the reconstruction at the input's sample rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from inrcodec.metrics import psnr, snr
from inrcodec.modalities.audio import AUDIO, PEAK_TO_PEAK, duration
from inrcodec.signal import Signal
from pipelines.bench.audio_codecs import AudioCodec
from pipelines.bench.image_codecs import Coded
from pipelines.bench.inr_jobs import encode_decode
from pipelines.bench.report import dist_at_rate, record_head

Clip = tuple[str, Signal]  # (file name, audio signal)
# The rate at which the quality bar compares the codec with MP3.
BAR_KBPS = 32.0


def load_clips(paths: Iterable[str | Path], seconds: float | None) -> list[Clip]:
    """Read audio files; with ``seconds``, keep the centre excerpt of that length.

    Raises ValueError when a clip is shorter than the excerpt.
    """
    clips = []
    for path in map(Path, paths):
        signal = AUDIO.read(path)
        if seconds:
            signal = _centre_excerpt(signal, seconds, path)
        clips.append((path.name, signal))
    return clips


def run_baselines(clips: Sequence[Clip], codecs: Sequence[AudioCodec]) -> list[dict[str, Any]]:
    """Code every clip with every codec at each of the codec's ``bitrates``."""
    records = []
    for codec in codecs:
        for name, signal in clips:
            for q in codec.bitrates:
                coded = codec.encode_decode(signal.data, signal.meta["sample_rate"], q)
                records.append(_record(codec.name, codec.version, codec.settings, name, q, signal, coded))
    return records


def fit_job(arg) -> dict[str, Any]:
    """One INR fit: (codec label, settings, file name, signal, target kbit/s) -> record."""
    import inrcodec

    codec, settings, name, signal, target = arg
    coded = encode_decode(signal, settings, kbps=target)
    return _record(codec, inrcodec.__version__, settings, name, target, signal, coded)


def psnr_at_bar(summary: dict[str, Any], records: Sequence[dict[str, Any]], label: str) -> str:
    """Each codec's mean PSNR at ``BAR_KBPS``, interpolated in log-rate, stored in the summary as
    "psnr_at_bar"; one line of Markdown saying it."""
    at_bar = {codec: dist_at_rate(curve, BAR_KBPS, "kbps", "psnr") for codec, curve in summary["curves"].items()}
    summary["psnr_at_bar"] = {"kbps": BAR_KBPS, **at_bar}
    values = ", ".join(f"{codec} {'n/a' if v is None else f'{v:.2f} dB'}" for codec, v in at_bar.items())
    return f"Mean PSNR at {BAR_KBPS:g} kbit/s (interpolated in log-rate): {values}"


def _record(codec: str, version: str, settings: dict[str, Any], file: str, param: float, original: Signal,
            coded: Coded) -> dict[str, Any]:
    if coded.decoded.shape != original.data.shape:
        raise ValueError(f"{codec} on {file}: decoded shape {coded.decoded.shape} != {original.data.shape}")
    return {
        **record_head(codec, version, settings, file, param, len(coded.data)),
        "kbps": 8 * len(coded.data) / duration(original.meta) / 1000,
        "psnr": psnr(original.data, coded.decoded, PEAK_TO_PEAK),
        "snr": snr(original.data, coded.decoded),
        "encode_s": coded.encode_s,
        "decode_s": coded.decode_s,
    }


def _centre_excerpt(signal: Signal, seconds: float, path: Path) -> Signal:
    frames = max(1, round(seconds * signal.meta["sample_rate"]))
    total = signal.data.shape[0]
    if frames > total:
        raise ValueError(f"{path}: {duration(signal.meta):.2f} s clip is shorter than the {seconds:g} s excerpt")
    start = (total - frames) // 2
    return Signal("audio", signal.data[start : start + frames].copy(), dict(signal.meta, frames=frames))
