"""Baseline audio codecs (MP3, Opus) through the ffmpeg binary that imageio-ffmpeg bundles.

Every codec encodes a (samples, channels) float32 clip in [-1, 1] at a nominal bitrate ``q``
(kbit/s) and decodes it back to the input's sample rate and channel count. The byte count is
the whole file exactly as ffmpeg wrote it (container headers included), so that
kbit/s = 8 * bytes / duration / 1000 compares with the size of an ``.inrc`` file. Clips go to
ffmpeg as 32-bit float WAV, so no codec sees a requantized input.
"""

from __future__ import annotations

import abc
import functools
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import soundfile as sf

from pipelines.bench.image_codecs import Coded

# Decoded clips may differ from the input by this fraction of its length (codec framing);
# more means the codec or its container lost track of the timeline.
MAX_LENGTH_MISMATCH = 0.01


class AudioCodec(abc.ABC):
    """A baseline codec: ``name``, ``version``, ``settings``, default sweep ``bitrates`` (kbit/s)."""

    name: ClassVar[str]
    bitrates: ClassVar[tuple[float, ...]]

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """Software versions that determine the bytes written."""

    @property
    @abc.abstractmethod
    def settings(self) -> dict[str, Any]:
        """Every fixed encoder option, and what the swept parameter ``q`` means."""

    @abc.abstractmethod
    def encode_decode(self, samples: np.ndarray, sample_rate: int, q: float) -> Coded:
        """Encode ``samples`` ((N, C) float32) at ``q`` kbit/s and decode them again."""


class FfmpegCodec(AudioCodec):
    """A codec reached through an ffmpeg encoder; subclasses give the encoder, file type and
    the sample rate the encoder runs at."""

    encoder: ClassVar[str]
    suffix: ClassVar[str]
    coded_rate_rule: ClassVar[str]  # how ``coded_rate`` chooses, for the record
    options: ClassVar[tuple[str, ...]] = ()
    # Scale applied to the input; undoes a fixed gain the encoder applies (see Mp3Codec).
    input_gain: ClassVar[float] = 1.0

    @property
    def version(self) -> str:
        return ffmpeg_version()

    @property
    def settings(self) -> dict[str, Any]:
        return {"encoder": self.encoder, "param": "bitrate (kbit/s)", "options": list(self.options),
                "input_gain": self.input_gain, "coded_rate": self.coded_rate_rule}

    @abc.abstractmethod
    def coded_rate(self, sample_rate: int, channels: int, kbps: float) -> int:
        """Sample rate the encoder codes at (the clip is resampled to it, and back after)."""

    def encode_decode(self, samples: np.ndarray, sample_rate: int, q: float) -> Coded:
        frames, channels = samples.shape
        with tempfile.TemporaryDirectory(prefix="inrcodec-bench-") as tmp:
            source, coded = Path(tmp) / "in.wav", Path(tmp) / f"out{self.suffix}"
            sf.write(source, samples * np.float32(self.input_gain), sample_rate, subtype="FLOAT")
            start = time.perf_counter()
            _ffmpeg("-i", source, "-ar", self.coded_rate(sample_rate, channels, q), "-c:a", self.encoder,
                    "-b:a", f"{q:g}k", *self.options, "-map_metadata", "-1", "-fflags", "+bitexact", coded)
            encode_s = time.perf_counter() - start
            data = coded.read_bytes()
            start = time.perf_counter()
            raw = _ffmpeg("-i", coded, "-f", "f32le", "-ac", channels, "-ar", sample_rate, "-")
            decode_s = time.perf_counter() - start
        decoded = np.frombuffer(raw, np.float32).reshape(-1, channels)
        return Coded(data, _fit_length(decoded, frames, self.name), encode_s, decode_s)


class Mp3Codec(FfmpegCodec):
    """MP3 with LAME (libmp3lame), constant bitrate, LAME's default quality.

    Two things ffmpeg does differently from the ``lame`` command line are undone here:
    - LAME scales its input by 0.95 (measured: every bitrate, both mpg123 and ffmpeg decode a
      tone at 0.950 of its amplitude); the float input is pre-scaled by 1/0.95.
    - ffmpeg makes LAME code at the input's sample rate, where MPEG-1 (32-48 kHz) has no
      bitrate below 32 kbit/s: asking for 16 kbit/s of 44.1 kHz audio silently gives 32. The
      clip is instead resampled to the rate ``lame`` itself would pick for that bitrate
      (``coded_rate``), and decoded back to the input rate for measurement.
    """

    name = "mp3"
    encoder = "libmp3lame"
    suffix = ".mp3"
    # No ID3 tag (nothing to say); the Xing/LAME frame stays, it carries the gapless trim.
    options = ("-id3v2_version", "0", "-write_xing", "1")
    input_gain = 1.0 / 0.95
    bitrates = (8, 16, 24, 32, 48, 64, 96, 128)
    coded_rate_rule = "LAME's own choice for the bitrate (lame.c: optimum_bandwidth, optimum_samplefreq)"

    def coded_rate(self, sample_rate: int, channels: int, kbps: float) -> int:
        return lame_sample_rate(sample_rate, channels, kbps)


class OpusCodec(FfmpegCodec):
    """Opus with libopus: VBR (its default), complexity 10, 'audio' application, Ogg file."""

    name = "opus"
    encoder = "libopus"
    suffix = ".opus"
    options = ("-application", "audio", "-compression_level", "10")
    bitrates = (8, 16, 24, 32, 48, 64, 96, 128)
    coded_rate_rule = "the input rate if Opus takes it, else 48 kHz"

    def coded_rate(self, sample_rate: int, channels: int, kbps: float) -> int:
        return sample_rate if sample_rate in OPUS_RATES else 48000


AUDIO_CODECS: dict[str, type[AudioCodec]] = {codec.name: codec for codec in (Mp3Codec, OpusCodec)}

OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
# LAME's lowpass (Hz) for a CBR bitrate (kbit/s, all channels together), from lame.c.
LAME_LOWPASS = ((8, 2000), (16, 3700), (24, 3900), (32, 5500), (40, 7000), (48, 7500), (56, 10000),
                (64, 11000), (80, 13500), (96, 15100), (112, 15600), (128, 17000), (160, 17500),
                (192, 18600), (224, 19400), (256, 19700), (320, 20500))
# The highest lowpass each output rate serves, from lame.c's optimum_samplefreq.
LAME_RATE_FOR_LOWPASS = ((3970, 8000), (4510, 11025), (5420, 12000), (7230, 16000), (9970, 22050),
                         (11220, 24000), (15250, 32000), (15960, 44100))


def lame_sample_rate(sample_rate: int, channels: int, kbps: float) -> int:
    """The output rate the ``lame`` command line picks for a CBR bitrate (LAME 3.100 rules)."""
    # Nearest tabulated bitrate, ties upwards (nearestBitrateFullIndex).
    _, lowpass = min(LAME_LOWPASS, key=lambda row: (abs(row[0] - kbps), -row[0]))
    if channels == 1:
        lowpass *= 1.5
    lowpass = min(lowpass, sample_rate / 2)
    floor = max((r for r in MP3_RATES if r <= sample_rate), default=MP3_RATES[0])
    suggested = next((rate for limit, rate in LAME_RATE_FOR_LOWPASS if lowpass <= limit), floor)
    if sample_rate < suggested:
        # No upsampling: the lowest MP3 rate at or above the input's.
        return next((r for r in MP3_RATES if r >= sample_rate), MP3_RATES[-1])
    return suggested


@functools.cache
def ffmpeg_version() -> str:
    """First line of ``ffmpeg -version`` and the imageio-ffmpeg release that bundles it."""
    import imageio_ffmpeg

    first = _ffmpeg_run(["-version"]).decode().splitlines()[0]
    return f"{first}; imageio-ffmpeg {imageio_ffmpeg.__version__}"


def _ffmpeg(*args) -> bytes:
    return _ffmpeg_run(["-nostdin", "-hide_banner", "-loglevel", "error", "-y", *map(str, args)])


def _ffmpeg_run(args: list[str]) -> bytes:
    import imageio_ffmpeg

    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), *args], capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed: {result.stderr.decode(errors='replace')[-500:]}")
    return result.stdout


def _fit_length(decoded: np.ndarray, frames: int, codec: str) -> np.ndarray:
    """The decoded clip cut or zero-padded to the input's length, clipped to [-1, 1]."""
    if abs(decoded.shape[0] - frames) > MAX_LENGTH_MISMATCH * frames:
        raise RuntimeError(f"{codec}: decoded {decoded.shape[0]} samples for an input of {frames}")
    out = np.zeros((frames, decoded.shape[1]), np.float32)
    out[: min(frames, decoded.shape[0])] = decoded[:frames]
    return np.clip(out, -1.0, 1.0)
