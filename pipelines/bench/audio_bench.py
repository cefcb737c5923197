"""Audio benchmark runs: load clips, code them with baselines or the INR codec, score them.

Every run yields records with one schema, whatever the codec::

    {"codec", "version", "settings", "file", "param", "bytes", "kbps", "mos", "visqol_mode", "psnr",
     "snr", "encode_s", "decode_s"}

``param`` is the swept codec parameter (nominal bitrate of a baseline, target kbit/s of the INR),
``kbps`` = 8 * bytes / duration / 1000 from the real file size, ``mos`` the ViSQOL MOS-LQO in
the clip's ``visqol_mode`` (pipelines/bench/visqol_score.py); PSNR (samples in [-1, 1], range
2.0, the COIN++ convention) and SNR are measured on the reconstruction at the input's sample rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from inrcodec.metrics import psnr, snr
from inrcodec.modalities.audio import AUDIO, PEAK_TO_PEAK, duration
from inrcodec.signal import Signal
from pipelines.bench.audio_codecs import AudioCodec
from pipelines.bench.image_codecs import Coded
from pipelines.bench.inr_jobs import encode_decode
from pipelines.bench.report import dist_at_rate, record_head
from pipelines.bench.visqol_score import MIN_SECONDS, clip_mode, mos

# The rates at which the summary compares the codecs' MOS.
MOS_KBPS = (16.0, 32.0, 64.0)


class AudioClip(NamedTuple):
    signal: Signal
    visqol_mode: str  # "speech" or "audio"


Clip = tuple[str, AudioClip]  # (file name, clip)


def load_clips(paths: Iterable[str | Path], seconds: float | None, speech: str | None) -> list[Clip]:
    """Read audio files; with ``seconds``, keep the centre excerpt of that length. ``speech``:
    comma-separated file name patterns scored in ViSQOL's speech mode (``visqol_score.clip_mode``).

    Raises ValueError when a clip is shorter than the excerpt or than ViSQOL scores.
    """
    patterns = [p.strip() for p in speech.split(",") if p.strip()] if speech else None
    clips = []
    for path in map(Path, paths):
        signal = AUDIO.read(path)
        if seconds:
            signal = _centre_excerpt(signal, seconds, path)
        mode = clip_mode(path.name, signal.meta["sample_rate"], patterns)
        if duration(signal.meta) < MIN_SECONDS[mode]:
            raise ValueError(f"{path}: a {duration(signal.meta):.2f} s clip is shorter than the {MIN_SECONDS[mode]:g} s "
                             f"that ViSQOL's {mode} mode needs; use longer clips (or a longer --seconds)")
        clips.append((path.name, AudioClip(signal, mode)))
    return clips


def run_baselines(clips: Sequence[Clip], codecs: Sequence[AudioCodec]) -> list[dict[str, Any]]:
    """Code every clip with every codec at each of the codec's ``bitrates``."""
    records = []
    for codec in codecs:
        for name, clip in clips:
            for q in codec.bitrates:
                coded = codec.encode_decode(clip.signal.data, clip.signal.meta["sample_rate"], q)
                records.append(_record(codec.name, codec.version, codec.settings, name, q, clip, coded))
    return records


def fit_job(arg) -> dict[str, Any]:
    """One INR fit: (codec label, settings, file name, signal, target kbit/s) -> record."""
    import inrcodec

    codec, settings, name, clip, target = arg
    coded = encode_decode(clip.signal, settings, kbps=target)
    return _record(codec, inrcodec.__version__, settings, name, target, clip, coded)


def mos_at_rates(summary: dict[str, Any], records: Sequence[dict[str, Any]], label: str) -> str:
    """Each codec's mean MOS at ``MOS_KBPS``, interpolated in log-rate, stored in the summary as
    "mos_at_kbps"; a Markdown table of them, and of every clip's ViSQOL mode."""
    at = {codec: [dist_at_rate(curve, kbps, "kbps", "mos") for kbps in MOS_KBPS]
          for codec, curve in summary["curves"].items()}
    summary["mos_at_kbps"] = {"kbps": list(MOS_KBPS), **at}
    rows = [f"| {codec} | " + " | ".join("n/a" if v is None else f"{v:.2f}" for v in values) + " |"
            for codec, values in at.items()]
    modes = sorted({(r["file"], r["visqol_mode"]) for r in records})
    return "\n".join([
        "Mean ViSQOL MOS-LQO at each rate (interpolated in log-rate; n/a: outside the codec's curve):", "",
        "| codec | " + " | ".join(f"{k:g} kbit/s" for k in MOS_KBPS) + " |",
        "|---|" + "---|" * len(MOS_KBPS), *rows, "",
        "ViSQOL mode per clip: " + ", ".join(f"{file} {mode}" for file, mode in modes)])


def _record(codec: str, version: str, settings: dict[str, Any], file: str, param: float, clip: AudioClip,
            coded: Coded) -> dict[str, Any]:
    original = clip.signal
    if coded.decoded.shape != original.data.shape:
        raise ValueError(f"{codec} on {file}: decoded shape {coded.decoded.shape} != {original.data.shape}")
    return {
        **record_head(codec, version, settings, file, param, len(coded.data)),
        "kbps": 8 * len(coded.data) / duration(original.meta) / 1000,
        "mos": mos(original.data, coded.decoded, original.meta["sample_rate"], clip.visqol_mode),
        "visqol_mode": clip.visqol_mode,
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
