import json

import numpy as np
import pytest

from pipelines.bench.run import run
from pipelines.bench.specs import VIDEO
from pipelines.bench.video_codecs import X264, X265, SvtAv1, drop_nal_units
from tests.video_clips import WHOLE_CLIP_VIDEO, moving_clip, write_clip


def test_sei_is_dropped_and_the_rest_of_an_annex_b_stream_is_kept():
    sps, sei, slice_ = b"\x00\x00\x00\x01\x67abc", b"\x00\x00\x01\x06settings", b"\x00\x00\x00\x01\x65data"
    assert drop_nal_units(sps + sei + slice_, lambda h: h[0] & 0x1F == 6) == sps + slice_


@pytest.mark.parametrize("codec", [X264(), X265(), SvtAv1()])
def test_baselines_decode_their_stripped_streams_to_the_clip_size(tmp_path, codec):
    clip = moving_clip(frames=4, height=16, width=32)
    source = write_clip(tmp_path / "c.mkv", clip)
    coarse, fine = (codec.encode_decode(source, 4, 16, 32, q) for q in (codec.qualities[0], codec.qualities[-1]))
    assert fine.decoded.shape == (4, 16, 32, 3) and len(fine.data) > len(coarse.data) > 0
    error = np.abs(fine.decoded.astype(int) - clip.data).mean()
    assert error < np.abs(coarse.decoded.astype(int) - clip.data).mean() + 1e-9 and error < 4
    if codec.name != "av1":
        assert b"options:" not in fine.data  # the settings text x264/x265 write into an SEI


def test_benchmark_writes_results_plot_table_and_resumes(tmp_path):
    write_clip(tmp_path / "clip.mkv", moving_clip())  # coded at 8 bpp by test_video_codec too: shared programs
    (tmp_path / "MANIFEST.md").write_text("not a video")
    out = tmp_path / "out"
    messages = []
    options = dict(targets=(4.0, 8.0), codecs=("x264",), overrides=WHOLE_CLIP_VIDEO, log=messages.append)
    run(VIDEO, [tmp_path], out, **options)
    document = json.loads((out / "results.json").read_text())
    inr = [r for r in document["records"] if r["codec"] == "inrcodec"]
    assert [r["param"] for r in inr] == [4.0, 8.0] and all(0 < r["bpp"] <= r["param"] for r in inr)
    assert all(r["decode_fps"] > 0 and r["kbps"] > 0 for r in inr)
    assert len([r for r in document["records"] if r["codec"] == "x264"]) == len(X264.qualities)
    assert (out / "rd.png").read_bytes()[:4] == b"\x89PNG" and "| x264 |" in (out / "summary.md").read_text()

    messages.clear()
    run(VIDEO, [tmp_path / "clip.mkv"], out, **options)
    assert "2 cached, 0 to fit" in messages[0]
