"""Video through the library: file round trips, the coded round trip, rates, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import inrcodec
from inrcodec import container
from inrcodec.errors import FormatError, InputError, OutputError
from inrcodec.metrics import psnr
from inrcodec.modalities.video import VIDEO
from tests.conftest import GOLDEN_IMAGE
from tests.video_clips import FAST_VIDEO, WHOLE_CLIP_VIDEO, moving_clip, write_clip, y4m_header


@pytest.mark.parametrize("suffix", [".mkv", ".avi"])
def test_lossless_containers_give_back_the_exact_frames_and_rate(tmp_path, suffix):
    clip = moving_clip(fps=(24000, 1001))
    back = inrcodec.load(write_clip(tmp_path / f"c{suffix}", clip))
    assert np.array_equal(back.data, clip.data)
    assert (back.meta["fps_num"], back.meta["fps_den"]) == (24000, 1001)


def test_y4m_keeps_size_count_and_exact_rate_and_close_colours(tmp_path):
    clip = moving_clip(frames=5, height=9, width=11, fps=(15, 1))  # odd sides: no 4:2:0 anywhere
    back = inrcodec.load(write_clip(tmp_path / "c.y4m", clip))
    assert back.data.shape == (5, 9, 11, 3) and (back.meta["fps_num"], back.meta["fps_den"]) == (15, 1)
    assert np.abs(back.data.astype(int) - clip.data).max() <= 3  # RGB -> YUV 4:4:4 -> RGB rounding


@pytest.fixture(scope="module")
def coded_clip():
    """Six 12x16 frames coded at 8 bpp by the whole-clip hash grid."""
    clip = moving_clip()
    return clip, inrcodec.encode_report(clip, bpp=8.0, overrides=WHOLE_CLIP_VIDEO)


def test_fit_decode_keeps_frames_size_and_fps_and_rate_is_file_size(coded_clip):
    clip, report = coded_clip
    pixels = 6 * 12 * 16
    assert report.rate["bpp"] == 8 * len(report.blob) / pixels <= 8.0
    assert report.rate["kbps"] == pytest.approx(8 * len(report.blob) / (6 * 1001 / 30000) / 1000)
    decoded = inrcodec.decode(report.blob)
    assert decoded.data.shape == clip.data.shape and decoded.data.dtype == np.uint8
    assert {k: decoded.meta[k] for k in ("frames", "fps_num", "fps_den")} == {"frames": 6, "fps_num": 30000, "fps_den": 1001}
    flat = np.broadcast_to(clip.data.mean(axis=(0, 1, 2)).round(), clip.data.shape)
    assert report.metrics["psnr"] > psnr(clip.data, flat, 255) + 6  # it learned the motion
    assert np.array_equal(decoded.data, report.signal.data)


def test_fps_scale_renders_in_between_frames(tmp_path, coded_clip):
    blob = coded_clip[1].blob
    slow = inrcodec.decode(blob, fps_scale=2)
    plain = inrcodec.decode(blob)
    assert slow.data.shape == (12, 12, 16, 3)
    assert (slow.meta["fps_num"], slow.meta["fps_den"]) == (60000, 1001)
    # Frame 2k+1 of the doubled clip is halfway between frames k and k+1 of the original.
    between = 0.5 * (plain.data[1:].astype(float) + plain.data[:-1])
    assert np.abs(slow.data[1:-1:2].astype(float) - between).mean() < np.abs(plain.data[1:].astype(float) - plain.data[:-1]).mean()
    with pytest.raises(inrcodec.ConfigError, match="video"):
        inrcodec.decode(GOLDEN_IMAGE, fps_scale=2)


def test_one_frame_is_coded_as_a_still(tmp_path):
    still = moving_clip(frames=1)
    decoded = inrcodec.decode(inrcodec.encode(still, overrides=FAST_VIDEO))
    assert decoded.data.shape == (1, 12, 16, 3)


def test_frame_folder_output_is_written_whole_and_never_over_an_existing_folder(tmp_path):
    clip = moving_clip(frames=3)
    inrcodec.save(clip, tmp_path / "frames")
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names == ["frame_00001.png", "frame_00002.png", "frame_00003.png"]
    import imageio.v3 as iio

    assert np.array_equal(iio.imread(tmp_path / "frames" / names[2]), clip.data[2])
    with pytest.raises(OutputError, match="is a directory"):
        inrcodec.save(clip, tmp_path / "frames")
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]


def _bad_files(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video" * 50)
    empty_clip = tmp_path / "noframes.y4m"
    empty_clip.write_bytes(y4m_header(16, 12))
    huge = tmp_path / "huge.y4m"
    huge.write_bytes(y4m_header(99999, 99999) + b"FRAME\n" + bytes(1000))
    return {
        "garbage": (garbage, "not a readable video"),
        "no frames": (empty_clip, "no frames"),
        "huge": (huge, "99999"),
        "empty": (_empty(tmp_path / "empty.mkv"), "empty"),
    }


def _empty(path):
    path.write_bytes(b"")
    return path


def test_bad_video_files_raise_input_errors_naming_the_file(tmp_path):
    for name, (path, fragment) in _bad_files(tmp_path).items():
        with pytest.raises(InputError) as info:
            VIDEO.read(path)
        assert str(path) in str(info.value) and fragment in str(info.value), name


def test_header_out_of_bounds_is_a_format_error():
    from inrcodec.bitstream import Reader, Writer

    w = Writer()
    for value in (1 << 14, 1 << 14, 16, 30, 1):  # 2^32 pixels in all
        w.uvarint(value)
    with pytest.raises(FormatError, match="out of bounds"):
        VIDEO.read_meta(Reader(w.getvalue(), what="video header"))


def test_a_clip_longer_than_max_samples_is_coded_in_segments_within_the_target(tmp_path):
    clip = moving_clip(frames=5)
    overrides = (*WHOLE_CLIP_VIDEO, f"fit.max_samples={3 * 12 * 16}")  # three frames per segment at most
    report = inrcodec.encode_report(clip, bpp=8.0, overrides=overrides)
    assert 8 * len(report.blob) <= 8.0 * 5 * 12 * 16
    header = inrcodec.info(report.blob)
    assert [s["signal"]["frames"] for s in header["segments"]] == [3, 2]
    assert header["bytes"]["total"] == len(report.blob) and header["format_version"] == "%d.%d" % (container.FORMAT_MAJOR, container.FORMAT_MINOR)
    decoded = inrcodec.decode(report.blob)
    assert decoded.data.shape == clip.data.shape and decoded.meta["frames"] == 5
    assert np.array_equal(decoded.data, report.signal.data)
    assert sum(q.size for q in inrcodec.decode_integers(report.blob)) == header["parameters"]
    assert inrcodec.decode(report.blob, fps_scale=2).data.shape[0] == 10


def test_segments_that_do_not_make_up_the_header_are_a_format_error():
    from inrcodec import container
    from inrcodec.bitstream import Writer
    from inrcodec.modalities import write_signal_chunk

    inner = inrcodec.encode(moving_clip(frames=1), overrides=(*WHOLE_CLIP_VIDEO, "fit.steps=10"))
    w = Writer()
    w.uvarint(1)
    w.uvarint(len(inner))
    w.raw(inner)  # one frame where the header says four
    header = write_signal_chunk(VIDEO, moving_clip(frames=4).meta)
    forged = container.pack(container.Container(header, segments=w.getvalue()))
    with pytest.raises(FormatError, match="segments do not make up"):
        inrcodec.decode(forged)
