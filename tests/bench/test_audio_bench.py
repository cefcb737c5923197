import json

import numpy as np
import pytest

from inrcodec.metrics import snr
from pipelines.bench.audio_codecs import Mp3Codec, OpusCodec, lame_sample_rate
from pipelines.bench.report import dist_at_rate
from pipelines.bench.run import run
from pipelines.bench.specs import AUDIO
from tests.audio_clips import FAST_AUDIO, tone_clip, write_clip


@pytest.mark.parametrize(
    ("rate", "channels", "kbps", "expected"),
    [(44100, 2, 8, 8000), (44100, 2, 16, 8000), (44100, 2, 32, 16000), (44100, 2, 64, 24000), (44100, 2, 128, 44100),
     (44100, 1, 32, 22050), (16000, 1, 8, 8000), (16000, 1, 32, 16000), (16000, 1, 128, 16000), (48000, 2, 320, 48000)],
)
def test_mp3_codes_at_the_sample_rate_lame_would_choose(rate, channels, kbps, expected):
    assert lame_sample_rate(rate, channels, kbps) == expected


def test_low_mp3_bitrates_of_44k_audio_are_not_raised_to_32_kbps():
    clip = tone_clip(1.0, 44100, 2)
    coded = Mp3Codec().encode_decode(clip, 44100, 16)
    assert 8 * len(coded.data) / 1000 < 24  # ffmpeg's own choice would give 32 kbit/s
    assert coded.decoded.shape == clip.shape


@pytest.mark.parametrize("codec", [Mp3Codec(), OpusCodec()], ids=["mp3", "opus"])
def test_baselines_return_aligned_clips_at_the_input_rate(codec):
    clip = tone_clip(0.5, 22050, 1)
    coded = codec.encode_decode(clip, 22050, 64)
    assert coded.decoded.shape == clip.shape and coded.decoded.dtype == np.float32
    assert snr(clip, coded.decoded) > 10  # misaligned or mis-scaled output would score near 0


def test_mp3_output_level_matches_the_input():
    t = np.arange(22050) / 22050
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None]
    decoded = Mp3Codec().encode_decode(tone, 22050, 64).decoded
    middle = slice(5000, 17000)
    assert np.sqrt(np.mean(decoded[middle] ** 2) / np.mean(tone[middle] ** 2)) == pytest.approx(1.0, abs=0.01)


def test_psnr_at_a_rate_interpolates_in_log_rate_and_never_extrapolates():
    curve = {"kbps": [8.0, 32.0], "psnr": [30.0, 40.0]}
    assert dist_at_rate(curve, 16.0, "kbps") == pytest.approx(35.0)
    assert dist_at_rate(curve, 64.0, "kbps") is None


def test_audio_benchmark_writes_results_plot_table_and_resumes(tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    write_clip(clips / "a.flac", tone_clip(1.0, 8000), 8000, "PCM_16")  # the shortest ViSQOL scores in speech mode
    (clips / "MANIFEST.md").write_text("not audio\n")
    out = tmp_path / "out"
    messages = []
    options = dict(codecs=("mp3", "opus"), targets=(16.0, 32.0, 48.0, 64.0), overrides=FAST_AUDIO, log=messages.append)
    summary = run(AUDIO, sorted(clips.iterdir()), out, **options)
    assert any("skipping" in m and "MANIFEST.md" in m for m in messages)
    document = json.loads((out / "results.json").read_text())
    inr = [r for r in document["records"] if r["codec"] == "inrcodec"]
    assert len(inr) == 4 and all(r["kbps"] <= r["param"] for r in inr)
    assert {"kbps", "mos", "psnr", "snr", "bytes"} <= set(inr[0]) and inr[0]["visqol_mode"] == "speech"
    assert all(1 <= r["mos"] <= 5 for r in document["records"])
    assert summary["dist_key"] == "mos" and set(summary["bd"]) == {"mp3", "opus"}
    assert summary["mos_at_kbps"]["kbps"] == [16, 32, 64] and len(summary["mos_at_kbps"]["inrcodec"]) == 3
    assert set(document["summary"]) == {"mos", "psnr", "snr"}
    for plot in ["rd.png", "rd-psnr.png", "rd-snr.png"]:
        assert (out / plot).read_bytes()[:4] == b"\x89PNG"
    assert "Mean ViSQOL MOS-LQO" in (out / "summary.md").read_text()

    messages.clear()
    run(AUDIO, [clips], out, **options)
    assert "4 cached, 0 to fit" in messages[0]


def test_a_clip_too_short_for_visqol_is_refused_naming_it(tmp_path):
    from pipelines.bench.audio_bench import load_clips

    path = write_clip(tmp_path / "short.wav", tone_clip(0.5, 8000), 8000, "PCM_16")
    with pytest.raises(ValueError, match="short.wav.*0.75 s"):
        load_clips([path], seconds=None, speech=None)
    clip = write_clip(tmp_path / "voice.wav", tone_clip(1.0, 8000), 8000, "PCM_16")
    assert load_clips([clip], seconds=None, speech="")[0][1].visqol_mode == "speech"  # by its 8 kHz rate
    assert load_clips([clip], seconds=None, speech="music*,other*")[0][1].visqol_mode == "audio"
