"""Audio noise fill: the chunk's round trip and bounds, the filled band's energy, and the codec
choosing it by rate."""

from __future__ import annotations

import numpy as np
import pytest

import inrcodec
from inrcodec import container
from inrcodec.codecs import noise_fill, stft
from inrcodec.errors import ConfigError, FormatError
from inrcodec.signal import Signal
from tests.audio_clips import FAST_AUDIO


def _band_power_db(samples: np.ndarray, rate: int, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples[:, 0])) ** 2
    freqs = np.fft.rfftfreq(samples.shape[0], 1.0 / rate)
    return float(10 * np.log10(spectrum[(freqs >= low) & (freqs < high)].mean()))


def _speech_like(seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    """Tones below 2 kHz and noise bursts above 4 kHz whose loudness changes every 0.1 s."""
    rng = np.random.default_rng(3)
    t = np.arange(round(seconds * rate)) / rate
    tones = 0.3 * np.sin(2 * np.pi * 300 * t) + 0.1 * np.sin(2 * np.pi * 1500 * t)
    hiss = np.fft.irfft(np.fft.rfft(rng.normal(0, 1, t.size)) * (np.fft.rfftfreq(t.size, 1 / rate) > 4000), t.size)
    envelope = np.repeat(rng.uniform(0.002, 0.05, -(-t.size // 1600)), 1600)[: t.size]
    return (tones + envelope * hiss / hiss.std())[:, None].astype(np.float32)


def test_chunk_round_trip_keeps_every_level():
    clip = np.concatenate([_speech_like(), _speech_like()[::-1]], axis=1)
    bands = noise_fill.analyse(clip, 16000, 4000, 9, step_db=3, band_erbs=1)
    parsed = noise_fill.read(noise_fill.write(bands), clip.shape[0], 2)
    assert parsed.widths == bands.widths and parsed.first_bin == bands.first_bin == 128
    assert np.array_equal(parsed.levels, bands.levels) and parsed.levels.shape[1:] == (2, len(bands.widths))


def _chunk_before_1_8(bands: noise_fill.NoiseBands) -> bytes:
    """A noise chunk as format 1.6 and 1.7 wrote it (every channel's levels as differences in
    time, one model), written field by field so as not to lean on the code under test."""
    from inrcodec import entropy
    from inrcodec.bitstream import Writer

    w = Writer()
    w.u8(bands.frame_log2)
    w.uvarint(bands.first_bin)
    w.uvarint(len(bands.widths))
    for width in bands.widths:
        w.uvarint(width)
    w.u8(bands.step_code)
    w.uvarint(bands.group)
    w.svarint(bands.top)
    w.uvarint(bands.silent)
    deltas = np.diff(bands.levels, axis=0, prepend=0).reshape(-1)
    model = entropy.fit_model(deltas)[0]
    model.write(w)
    return w.getvalue() + entropy.encode([deltas], [model])


def test_later_channels_are_coded_from_the_channel_before_and_older_files_still_parse():
    mono = _speech_like(2.0)
    # Two channels of one recording: the second a little softer and with its own faint hiss.
    clip = np.concatenate([mono, 0.9 * mono + np.random.default_rng(5).normal(0, 1e-4, mono.shape)], axis=1)
    bands = noise_fill.analyse(clip, 16000, 4000, 9, step_db=3, band_erbs=1)
    chunk, old_chunk = noise_fill.write(bands), _chunk_before_1_8(bands)
    assert len(chunk) < 0.8 * len(old_chunk)
    assert np.array_equal(noise_fill.read(chunk, clip.shape[0], 2).levels, bands.levels)
    old = noise_fill.read(old_chunk, clip.shape[0], 2, channel_prediction=False)
    assert np.array_equal(old.levels, bands.levels)
    with pytest.raises(FormatError):  # each layout is read only by its own version's rules
        noise_fill.read(old_chunk, clip.shape[0], 2)


def test_filled_bands_have_the_originals_energy_and_the_band_below_is_kept():
    clip = _speech_like()
    bands = noise_fill.analyse(clip, 16000, 4000, 9, step_db=3, band_erbs=1)
    below = noise_fill.lowpass(clip, bands)
    filled = noise_fill.fill(below, bands)
    assert _band_power_db(below, 16000, 4200, 8000) < _band_power_db(clip, 16000, 4200, 8000) - 40
    assert _band_power_db(filled, 16000, 4200, 8000) == pytest.approx(_band_power_db(clip, 16000, 4200, 8000), abs=1.5)
    added = filled - below  # the noise, and only a little of it (frame edges) below the cutoff
    assert _band_power_db(added, 16000, 0, 3500) < _band_power_db(added, 16000, 4200, 8000) - 20
    # Loudness over time follows the original's, 0.1 s at a time (a 26 dB range of bursts).
    loud = lambda x: np.log10(np.mean(noise_fill.fill(np.zeros_like(x), bands).reshape(10, -1) ** 2, axis=1))  # noqa: E731
    original = np.log10(np.mean((clip - below).reshape(10, -1) ** 2, axis=1))
    assert np.corrcoef(loud(clip), original)[0, 1] > 0.95


def test_a_header_beyond_the_noise_fill_limit_is_refused_before_any_allocation():
    chunk = noise_fill.write(noise_fill.analyse(_speech_like(0.25), 16000, 4000, 9, step_db=3, band_erbs=1))
    with pytest.raises(FormatError, match="at most"):
        noise_fill.read(chunk, stft.MAX_SAMPLES, 2)


@pytest.mark.parametrize("damage", ["widths", "levels", "frame", "truncated"])
def test_a_damaged_chunk_is_a_format_error(damage):
    clip = _speech_like(0.25)
    bands = noise_fill.analyse(clip, 16000, 4000, 9, step_db=3, band_erbs=1)
    if damage == "widths":
        bands = noise_fill.NoiseBands(**{**bands.__dict__, "widths": bands.widths[:-1] + (bands.widths[-1] + 1,)})
    elif damage == "levels":
        bands = noise_fill.NoiseBands(**{**bands.__dict__, "silent": 2, "levels": bands.levels * 0 + 5})
    chunk = noise_fill.write(bands)
    if damage == "frame":
        chunk = bytes([20]) + chunk[1:]
    elif damage == "truncated":
        chunk = chunk[:-3]
    with pytest.raises(FormatError):
        noise_fill.read(chunk, clip.shape[0], 1)


@pytest.fixture(scope="module")
def noise_filled() -> bytes:
    """One second of 16 kHz speech-like audio at 16 kbit/s: the rate's cutoff is 4 kHz."""
    return inrcodec.encode(Signal("audio", _speech_like(), {"sample_rate": 16000, "channels": 1, "frames": 16000,
                                                            "subtype": "PCM_16"}), kbps=16, overrides=FAST_AUDIO)


def test_a_low_rate_codes_the_top_band_as_noise_within_the_target(noise_filled):
    info = inrcodec.info(noise_filled)
    assert info["bytes"]["noise"] > 0 and len(noise_filled) * 8 <= 16 * 1000
    decoded = inrcodec.decode(noise_filled).data
    clip = _speech_like()
    assert decoded.shape == clip.shape
    assert _band_power_db(decoded, 16000, 4500, 8000) == pytest.approx(_band_power_db(clip, 16000, 4500, 8000), abs=3)


def test_a_stereo_low_rate_takes_one_noise_level_per_two_frames():
    mono = _speech_like()
    clip = np.concatenate([mono, 0.5 * mono], axis=1)
    blob = inrcodec.encode(Signal("audio", clip, {"sample_rate": 16000, "channels": 2, "frames": 16000,
                                                  "subtype": "PCM_16"}), kbps=16, overrides=FAST_AUDIO)
    assert len(blob) * 8 <= 16 * 1000
    bands = noise_fill.read(container.unpack(blob).noise, 16000, 2)
    assert bands.group == 2  # 8 kbit/s a channel
    decoded = inrcodec.decode(blob).data
    for c in range(2):
        assert _band_power_db(decoded[:, c:], 16000, 4500, 8000) == pytest.approx(
            _band_power_db(clip[:, c:], 16000, 4500, 8000), abs=3)


def test_the_whole_band_is_coded_when_asked(noise_filled):
    signal = inrcodec.decode(noise_filled)
    blob = inrcodec.encode(signal, kbps=16, overrides=(*FAST_AUDIO, "audio.cutoff_hz=-1"))
    assert "noise" not in inrcodec.info(blob)["bytes"]


def test_a_noise_filled_file_decodes_only_at_its_own_rate(noise_filled):
    with pytest.raises(ConfigError, match="--scale"):
        inrcodec.decode(noise_filled, scale=0.5)


def test_a_noise_chunk_outside_audio_is_a_format_error(noise_filled):
    from tests.test_golden import GOLDEN

    parsed = container.unpack((GOLDEN / "image-hashgrid.inrc").read_bytes())
    noise = container.unpack(noise_filled).noise
    with pytest.raises(FormatError, match="noise chunk"):
        inrcodec.decode(container.pack(container.Container(parsed.signal, parsed.model, parsed.tensors, parsed.payload,
                                                           noise=noise)))
