"""Audio through the library API: round trips, rate accounting, header bounds, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

import inrcodec
from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import FormatError, InputError
from inrcodec.modalities.audio import AUDIO, MAX_FRAMES
from inrcodec.signal import Signal
from tests.audio_clips import FAST_AUDIO, tone_clip, write_clip
from tests.conftest import REPO


@pytest.fixture(scope="module")
def coded_tone() -> tuple[Signal, inrcodec.api.EncodeReport]:
    """A quarter second of 8 kHz mono coded at 32 kbit/s."""
    signal = _signal(tone_clip(0.25, 8000))
    return signal, inrcodec.encode_report(signal, kbps=32, overrides=FAST_AUDIO)


@pytest.mark.parametrize(
    ("suffix", "subtype", "rate", "channels"),
    [(".wav", "PCM_16", 8000, 1), (".flac", "PCM_24", 11025, 2), (".wav", "FLOAT", 16000, 1)],
)
def test_round_trip_keeps_sample_rate_channels_length_and_format(tmp_path, suffix, subtype, rate, channels):
    # A quarter second: the sample counts of coded_tone, the CLI test and the speech excerpt.
    source = write_clip(tmp_path / f"in{suffix}", tone_clip(0.25, rate, channels), rate, subtype)
    signal = inrcodec.decode(inrcodec.encode(source, overrides=FAST_AUDIO))
    assert signal.sample_rate == rate and signal.data.shape == (round(0.25 * rate), channels)
    assert signal.data.dtype == np.float32 and np.abs(signal.data).max() <= 1.0
    out = tmp_path / f"out{suffix}"
    inrcodec.save(signal, out)
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (rate, channels, round(0.25 * rate), subtype)


def test_rate_equals_file_size_and_stays_within_the_target(coded_tone):
    _, report = coded_tone
    assert report.rate["kbps"] == pytest.approx(8 * len(report.blob) / 0.25 / 1000)
    assert report.rate["kbps"] <= 32


def test_fit_beats_silence_and_metrics_measure_the_written_file(coded_tone, tmp_path):
    original, report = coded_tone
    assert report.metrics["snr"] > 3  # silence would score 0 dB
    mse = np.mean((original.data - report.signal.data) ** 2)
    assert report.metrics["psnr"] == pytest.approx(10 * math.log10(4 / mse))
    inrcodec.save(report.signal, tmp_path / "out.wav")
    assert np.array_equal(sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)[0], report.signal.data)


def test_decode_renders_at_another_sample_rate(coded_tone):
    signal = inrcodec.decode(coded_tone[1].blob, scale=2)
    assert signal.sample_rate == 16000 and signal.data.shape == (4000, 1)


def test_header_round_trips_and_rejects_out_of_bounds_fields():
    meta = {"sample_rate": 44100, "channels": 2, "frames": 123456, "subtype": "PCM_24"}
    w = Writer()
    AUDIO.write_meta(meta, w)
    assert len(w.getvalue()) <= 8  # varints: every header byte is paid for in the rate
    assert AUDIO.read_meta(Reader(w.getvalue())) == meta
    for fields in ([0, 1, 10, 3], [8000, 0, 10, 3], [8000, 9, 10, 3], [8000, 1, 0, 3], [8000, 1, MAX_FRAMES + 1, 3],
                   [400_000, 1, 10, 3], [8000, 1, 10, 77]):
        w = Writer()
        for value in fields:
            w.uvarint(value)
        with pytest.raises(FormatError):
            AUDIO.read_meta(Reader(w.getvalue()))


def _bad_files(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n")
    silent = write_clip(tmp_path / "zero.wav", np.zeros((0, 1), np.float32), 8000, "PCM_16")
    nan = tone_clip(0.05)
    nan[10] = np.nan
    nan_file = write_clip(tmp_path / "nan.wav", nan, 8000, "FLOAT")
    return {"empty": (empty, "empty"), "text named .wav": (text, "not a readable audio file"),
            "zero-length": (silent, "no samples"), "NaN samples": (nan_file, "NaN"),
            "unsupported format": (tmp_path / "clip.mid", "unsupported file type")}


def test_bad_inputs_raise_input_error_naming_the_file(tmp_path):
    for name, (path, fragment) in _bad_files(tmp_path).items():
        with pytest.raises(InputError) as error:
            inrcodec.load(path)
        assert str(path) in str(error.value) and fragment in str(error.value), name


def test_real_speech_excerpt_round_trip():
    clip = inrcodec.load(REPO / "data" / "librispeech-test-audio-0.flac")
    excerpt = Signal("audio", clip.data[16000:20000], dict(clip.meta, frames=4000))
    # The whole band as a waveform (tests/test_noise_fill.py covers the noise-filled top band).
    report = inrcodec.encode_report(excerpt, kbps=32, overrides=(*FAST_AUDIO, "audio.cutoff_hz=-1"))
    assert report.signal.sample_rate == 16000 and report.signal.data.shape == (4000, 1)
    assert report.rate["kbps"] <= 32 and report.metrics["snr"] > 3


def _signal(data: np.ndarray, rate: int = 8000) -> Signal:
    return Signal("audio", data, {"sample_rate": rate, "channels": data.shape[1], "frames": data.shape[0], "subtype": "PCM_16"})


def test_long_clip_in_segments_keeps_length_and_target():
    signal = _signal(tone_clip(0.25, 8000))
    report = inrcodec.encode_report(signal, kbps=32, overrides=(*FAST_AUDIO, "fit.max_samples=800"))
    assert [s["signal"]["frames"] for s in inrcodec.info(report.blob)["segments"]] == [667, 667, 666]
    assert report.rate["kbps"] <= 32 and report.metrics["snr"] > 3
    decoded = inrcodec.decode(report.blob)
    assert decoded.data.shape == (2000, 1) and decoded.sample_rate == 8000
