"""Video through the command line: fit, decode to files and folders, in-between frames, mistakes."""

from __future__ import annotations

import json

import numpy as np

import inrcodec
from tests.cli_runs import assert_fit_refuses_each, assert_one_line_error, invoke, set_options
from tests.conftest import GOLDEN_IMAGE
from tests.test_video_codec import _bad_files
from tests.video_clips import FAST_VIDEO, write_clip

SET_FAST = set_options(FAST_VIDEO)


def test_fit_then_decode_to_a_file_a_folder_and_twice_the_frame_rate(tmp_path):
    source = write_clip(tmp_path / "clip.mkv")
    fitted = invoke("fit", source, "--bpp", "8", *SET_FAST)  # test_video_codec's coded_clip
    assert fitted.exit_code == 0, fitted.stderr
    assert "6 frames" in fitted.stdout and "bpp" in fitted.stdout and "kbps" in fitted.stdout and "psnr" in fitted.stdout
    coded = tmp_path / "clip.inrc"
    assert coded.stat().st_size * 8 <= 8 * 6 * 12 * 16
    assert json.loads(invoke("info", coded).stdout)["signal"]["frames"] == 6

    assert invoke("decode", coded, "-o", tmp_path / "back.y4m").exit_code == 0
    back = inrcodec.load(tmp_path / "back.y4m")
    assert back.data.shape == (6, 12, 16, 3) and (back.meta["fps_num"], back.meta["fps_den"]) == (30000, 1001)

    assert invoke("decode", coded, "-o", tmp_path / "frames").exit_code == 0
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == 6

    # In-between frames need the whole-clip preset; the default codec says so in one line.
    assert_one_line_error(invoke("decode", coded, "-o", tmp_path / "slow.mkv", "--fps-scale", "2"), "hashgrid-cpu.yaml")
    assert not (tmp_path / "slow.mkv").exists()  # (the whole-clip preset's: tests/test_video_codec.py)
    # The default output is a lossless .mkv named after the .inrc, never the source's own name.
    before = source.read_bytes()
    assert invoke("decode", coded).exit_code == 0
    assert source.read_bytes() == before
    assert np.array_equal(inrcodec.load(tmp_path / "clip.decoded.mkv").data, inrcodec.decode(coded).data)


def test_bad_video_inputs_fail_with_one_line_and_no_output(tmp_path):
    assert_fit_refuses_each(_bad_files(tmp_path), tmp_path)


def test_fps_scale_on_an_image_file_is_one_line(tmp_path):
    result = invoke("decode", GOLDEN_IMAGE, "-o", tmp_path / "x.png", "--fps-scale", "2")
    assert_one_line_error(result, "--fps-scale", "video")
    assert not (tmp_path / "x.png").exists()
