"""Audio through the command line: fit with a kbit/s target, decode, and user mistakes."""

from __future__ import annotations

import soundfile as sf

from tests.audio_clips import FAST_AUDIO, tone_clip, write_clip
from tests.cli_runs import assert_fit_refuses_each, assert_one_line_error, invoke, set_options
from tests.test_audio_codec import _bad_files

SET_FAST = set_options(FAST_AUDIO)


def test_fit_with_kbps_then_decode_keeps_rate_channels_and_length(tmp_path):
    source = write_clip(tmp_path / "speech.flac", tone_clip(0.25, 11025, 2), 11025, "PCM_16")
    fitted = invoke("fit", source, "-o", tmp_path / "m.inrc", "--kbps", "32", *SET_FAST)
    assert fitted.exit_code == 0, fitted.stderr
    assert "0.25 s" in fitted.stdout and "kbps" in fitted.stdout and "snr" in fitted.stdout
    assert (tmp_path / "m.inrc").stat().st_size * 8 <= 32_000 * 0.25
    decoded = invoke("decode", tmp_path / "m.inrc")
    assert decoded.exit_code == 0, decoded.stderr
    info = sf.info(tmp_path / "m.decoded.wav")
    assert (info.samplerate, info.channels, info.frames) == (11025, 2, 2756)


def test_bpp_target_is_rejected_for_audio(tmp_path):
    source = write_clip(tmp_path / "a.wav", tone_clip(), 8000, "PCM_16")
    result = invoke("fit", source, "--bpp", "1")
    assert_one_line_error(result, "--bpp", "--kbps")
    assert result.exit_code == 2 and not source.with_suffix(".inrc").exists()


def test_bad_audio_inputs_fail_with_one_line_and_no_output(tmp_path):
    assert_fit_refuses_each(_bad_files(tmp_path), tmp_path)
