"""Audio band gains: the chunk's round trip and bounds, what the correction does to a noisy
rendering, and the codec adding it within the rate target."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import inrcodec
from inrcodec import container
from inrcodec.codecs import band_gains, stft
from inrcodec.errors import FormatError
from inrcodec.signal import Signal
from tests.audio_clips import FAST_AUDIO, tone_clip

RATE = 16000


def _talk_and_pause(seconds: float = 1.0) -> np.ndarray:
    """Harmonic tones for 0.2 s, then 0.2 s of near silence, and again."""
    t = np.arange(round(seconds * RATE)) / RATE
    voice = sum(0.2 / k * np.sin(2 * np.pi * 180 * k * t) for k in range(1, 12))
    on = (t % 0.4) < 0.2
    return (np.where(on, voice, 1e-4 * np.sin(2 * np.pi * 50 * t)))[:, None].astype(np.float32)


def _noisy(clip: np.ndarray, level: float = 0.01) -> np.ndarray:
    """A rendering that smooths the clip a little and adds a steady noise floor."""
    rng = np.random.default_rng(5)
    smoothed = np.convolve(clip[:, 0], np.ones(3) / 3, mode="same")[:, None]
    return (smoothed + level * rng.normal(size=clip.shape)).astype(np.float32)


def _error_db(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(np.mean((a.astype(np.float64) - b) ** 2)))


def test_chunk_round_trip_keeps_every_level_of_every_channel():
    clip = np.concatenate([_talk_and_pause(), _talk_and_pause()[::-1]], axis=1)
    gains = band_gains.analyse(clip, _noisy(clip[:, :1]).repeat(2, axis=1), RATE, 128, step_db=6, band_erbs=1)
    assert gains.stop_bin == 128 and sum(gains.widths) == 128
    assert gains.levels.min() < 0 and np.any(gains.levels[:, 0] != gains.levels[:, 1])
    parsed = band_gains.read(band_gains.write(gains), clip.shape[0], 2, RATE)
    assert parsed.widths == gains.widths and np.array_equal(parsed.levels, gains.levels)


def test_gains_take_the_noise_floor_out_of_the_pauses_and_keep_the_sound():
    clip = _talk_and_pause()
    rendered = _noisy(clip)
    corrected = band_gains.apply(rendered, band_gains.analyse(clip, rendered, RATE, None, step_db=6, band_erbs=1))
    pause = ((np.arange(clip.shape[0]) / RATE) % 0.4 > 0.25) & ((np.arange(clip.shape[0]) / RATE) % 0.4 < 0.35)
    assert _error_db(corrected[pause], clip[pause]) < _error_db(rendered[pause], clip[pause]) - 20
    sound = ~pause & ((np.arange(clip.shape[0]) / RATE) % 0.4 < 0.2)
    assert _error_db(corrected[sound], clip[sound]) < _error_db(rendered[sound], clip[sound]) + 1


def test_a_rendering_like_the_original_needs_no_correction():
    clip = _talk_and_pause()
    gains = band_gains.analyse(clip, clip, RATE, None, step_db=6, band_erbs=1)
    assert not gains.levels.any()
    assert len(band_gains.write(gains)) < 64


def test_a_header_beyond_the_limit_is_refused_before_any_allocation():
    clip = _talk_and_pause(0.25)
    chunk = band_gains.write(band_gains.analyse(clip, _noisy(clip), RATE, None, step_db=6, band_erbs=1))
    with pytest.raises(FormatError, match="at most"):
        band_gains.read(chunk, stft.MAX_SAMPLES, 2, RATE)


@pytest.mark.parametrize("damage", ["widths", "frame", "truncated", "extended"])
def test_a_damaged_chunk_is_a_format_error(damage):
    clip = _talk_and_pause(0.25)
    gains = band_gains.analyse(clip, _noisy(clip), RATE, None, step_db=6, band_erbs=1)
    if damage == "widths":
        gains = dataclasses.replace(gains, widths=gains.widths[:-1] + (gains.widths[-1] + 1,))
    chunk = band_gains.write(gains)
    if damage == "frame":
        chunk = bytes([20]) + chunk[1:]
    elif damage == "truncated":
        chunk = chunk[:-3]
    elif damage == "extended":
        chunk = chunk + bytes(8)
    with pytest.raises(FormatError):
        band_gains.read(chunk, clip.shape[0], 1, RATE)


def test_one_bin_per_band_over_the_whole_band_round_trips():
    clip = _talk_and_pause(0.25)
    gains = band_gains.analyse(clip, _noisy(clip), RATE, None, step_db=6, band_erbs=0.01)
    assert len(gains.widths) == gains.stop_bin == 257
    assert np.array_equal(band_gains.read(band_gains.write(gains), clip.shape[0], 1, RATE).levels, gains.levels)


def _chunk_with(gains: band_gains.BandGains, *, step_code=None, low=None, high=None, models=None) -> bytes:
    """A gains chunk written field by field, with any of its header fields replaced."""
    from inrcodec.bitstream import Writer

    w = Writer()
    w.u8(gains.frame_log2)
    w.uvarint(gains.stop_bin)
    w.uvarint(len(gains.widths))
    for width in gains.widths:
        w.uvarint(width)
    w.u8(gains.step_code if step_code is None else step_code)
    w.svarint(int(gains.levels.min()) if low is None else low)
    w.svarint(int(gains.levels.max()) if high is None else high)
    for model in models:
        model.write(w)
    return w.getvalue()


@pytest.mark.parametrize("field", ["huge model centre", "model beyond the levels", "gain that overflows"])
def test_a_hostile_header_is_a_format_error_before_any_work(field):
    from inrcodec import entropy

    clip = _talk_and_pause(0.25)
    gains = band_gains.analyse(clip, _noisy(clip), RATE, None, step_db=6, band_erbs=1)
    zero = entropy.TensorModel(entropy.CONSTANT, 0)
    if field == "huge model centre":
        chunk = _chunk_with(gains, models=[entropy.TensorModel(entropy.DISCRETE_LAPLACE, 1 << 40, 1, 1, 9000)] * 5)
    elif field == "model beyond the levels":
        chunk = _chunk_with(gains, models=[entropy.TensorModel(entropy.DISCRETE_LAPLACE, 0, 1, 50, 9000)] + [zero] * 4)
    else:
        chunk = _chunk_with(gains, step_code=255, low=0, high=200, models=[zero] * 5)
    with pytest.raises(FormatError, match="gains chunk"):
        band_gains.read(chunk + bytes(4), clip.shape[0], 1, RATE)


def test_a_frame_other_than_the_sample_rate_gives_is_a_format_error():
    clip = _talk_and_pause(0.25)
    chunk = band_gains.write(band_gains.analyse(clip, _noisy(clip), RATE, None, step_db=6, band_erbs=1))
    with pytest.raises(FormatError, match="frame"):
        band_gains.read(chunk, clip.shape[0], 1, 8000)


@pytest.fixture(scope="module")
def coded() -> bytes:
    clip = _talk_and_pause()
    return inrcodec.encode(Signal("audio", clip, {"sample_rate": RATE, "channels": 1, "frames": clip.shape[0],
                                                  "subtype": "PCM_16"}), kbps=24, overrides=FAST_AUDIO)


def test_the_codec_adds_gains_within_the_target_and_the_decoder_applies_them(coded):
    sizes = inrcodec.info(coded)["bytes"]
    assert sizes["gains"] > 0 and len(coded) * 8 <= 24 * 1000
    clip = _talk_and_pause()
    parsed = container.unpack(coded)
    without = inrcodec.decode(container.pack(dataclasses.replace(parsed, gains=None))).data
    with_gains = inrcodec.decode(coded).data
    t = np.arange(clip.shape[0]) / RATE
    pause = (t % 0.4 > 0.25) & (t % 0.4 < 0.35)
    assert _error_db(with_gains[pause], clip[pause]) < _error_db(without[pause], clip[pause]) - 6


def test_gains_can_be_turned_off(coded):
    blob = inrcodec.encode(inrcodec.decode(coded), kbps=24, overrides=(*FAST_AUDIO, "audio.gain_step_db=0"))
    assert "gains" not in inrcodec.info(blob)["bytes"]


def test_a_gains_chunk_outside_audio_is_a_format_error(coded):
    from tests.test_golden import GOLDEN

    parsed = container.unpack((GOLDEN / "image-hashgrid.inrc").read_bytes())
    gains = container.unpack(coded).gains
    with pytest.raises(FormatError, match="gains chunk"):
        inrcodec.decode(container.pack(dataclasses.replace(parsed, gains=gains)))


def test_another_rate_renders_the_network_without_the_gains():
    clip = _talk_and_pause(0.5)
    blob = inrcodec.encode(Signal("audio", clip, {"sample_rate": RATE, "channels": 1, "frames": clip.shape[0],
                                                  "subtype": "PCM_16"}),
                           kbps=24, overrides=(*FAST_AUDIO, "audio.cutoff_hz=-1"))
    parsed = container.unpack(blob)
    assert parsed.gains is not None and parsed.noise is None
    without = inrcodec.decode(container.pack(dataclasses.replace(parsed, gains=None)), scale=2).data
    assert np.array_equal(inrcodec.decode(blob, scale=2).data, without) and without.shape == (clip.shape[0] * 2, 1)


def test_no_gains_where_they_would_take_too_much_of_what_the_noise_leaves():
    # 44.1 kHz stereo at 16 kbit/s: 1700 levels a second and channel would want two fifths of the bits.
    clip = tone_clip(0.5, 44100, 2)
    blob = inrcodec.encode(Signal("audio", clip, {"sample_rate": 44100, "channels": 2, "frames": clip.shape[0],
                                                  "subtype": "PCM_16"}), kbps=16, overrides=FAST_AUDIO)
    sizes = inrcodec.info(blob)["bytes"]
    assert "gains" not in sizes and sizes["noise"] > 0 and len(blob) * 8 <= 16 * 500
