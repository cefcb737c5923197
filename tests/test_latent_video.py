"""The latent-grid codec on video (architecture ``latentvideo``): 3-D grids, the entropy model's
context in the previous frame, round trips, exact probabilities, segments."""

import numpy as np
import pytest

import inrcodec
from inrcodec import latent_arm
from inrcodec.codecs.latent import stream
from inrcodec.errors import ConfigError
from inrcodec.inr import LatentVideoConfig
from inrcodec.metrics import psnr
from tests.latent_checks import assert_encoder_and_decoder_see_identical_probabilities
from tests.video_clips import moving_clip

TARGET_BPP = 8.0
# 255 noisy then 45 rounded steps (qat_fraction 0.15), 15 per call: every call of a phase runs
# the same compiled program.
TINY_VIDEO = ("arch.name=latentvideo", "arch.levels=3", "arch.synth_width=8", "arch.arm_width=6", "fit.steps=300",
              "fit.steps_per_call=15", "fit.lr=0.02", "fit.batch_size=0")


@pytest.fixture(scope="module")
def coded():
    clip = moving_clip(frames=4)
    return clip, inrcodec.encode_report(clip, bpp=TARGET_BPP, overrides=TINY_VIDEO)


def test_round_trip_keeps_frames_size_and_rate_and_learns_the_motion(coded):
    clip, report = coded
    decoded = inrcodec.decode(report.blob)
    assert decoded.data.shape == clip.data.shape and decoded.data.dtype == np.uint8
    assert (decoded.meta["fps_num"], decoded.meta["fps_den"]) == (30000, 1001)
    assert np.array_equal(decoded.data, report.signal.data)
    assert report.rate["bpp"] == 8 * len(report.blob) / clip.data[..., 0].size <= TARGET_BPP
    flat = np.broadcast_to(clip.data.mean(axis=(0, 1, 2)).round(), clip.data.shape)
    assert report.metrics["psnr"] > psnr(clip.data, flat, 255) + 6


def test_info_shows_grids_halved_along_time_too(coded):
    info = inrcodec.info(coded[1].blob)
    assert info["architecture"]["name"] == "latentvideo"
    assert info["latents"]["grids"] == [[4, 12, 16], [2, 6, 8], [1, 3, 4]]


def test_encoder_and_decoder_see_identical_probabilities(coded):
    assert_encoder_and_decoder_see_identical_probabilities(coded[1].blob)


@pytest.mark.parametrize("shape", [(3, 4, 5), (1, 6, 2), (5, 1, 1)])
def test_wavefronts_cover_a_3d_grid_once_with_every_neighbour_decoded_first(shape):
    offsets = LatentVideoConfig(previous_radius=2).offsets()
    assert len(offsets) == 25 + 12 and all(offset < (0, 0, 0) for offset in offsets)  # causal
    seen = np.full(shape, -1)
    for step, positions in enumerate(latent_arm.wavefronts(shape, offsets)):
        assert np.all(seen[positions] == -1)
        seen[positions] = step
    assert np.all(seen >= 0)
    for position in np.ndindex(shape):
        for offset in offsets:
            neighbour = tuple(p + d for p, d in zip(position, offset))
            if all(0 <= n < s for n, s in zip(neighbour, shape)):
                assert seen[neighbour] < seen[position]


def test_doubled_frame_rate_renders_twice_the_frames(coded):
    slow = inrcodec.decode(coded[1].blob, fps_scale=2)
    assert slow.data.shape == (8, 12, 16, 3) and (slow.meta["fps_num"], slow.meta["fps_den"]) == (60000, 1001)


def test_a_long_clip_is_coded_as_latent_video_segments_within_the_target():
    clip = moving_clip(frames=4)
    # two frames per segment; 34 noisy and 6 rounded steps, 2 per call
    overrides = (*TINY_VIDEO, "fit.steps=40", "fit.steps_per_call=2", f"fit.max_samples={2 * 12 * 16}")
    report = inrcodec.encode_report(clip, bpp=TARGET_BPP, overrides=overrides)
    info = inrcodec.info(report.blob)
    assert [s["architecture"]["name"] for s in info["segments"]] == ["latentvideo", "latentvideo"]
    assert inrcodec.decode(report.blob).data.shape == clip.data.shape
    assert 8 * len(report.blob) <= TARGET_BPP * clip.data[..., 0].size


def test_the_image_and_video_grids_refuse_each_other():
    with pytest.raises(ConfigError, match="videos take latentvideo"):
        inrcodec.encode(moving_clip(frames=2), overrides=("arch.name=latentgrid",))
    frame = np.ascontiguousarray(moving_clip(frames=1).data[0])
    still = inrcodec.Signal("image", frame, {"height": 12, "width": 16, "channels": 3, "bits": 8})
    with pytest.raises(ConfigError, match="images take latentgrid"):
        inrcodec.encode(still, overrides=("arch.name=latentvideo",))


def test_sampled_latent_bits_estimate_the_full_count(coded):
    _, _, arch, arm_ints, fracs, latents = assert_encoder_and_decoder_see_identical_probabilities(coded[1].blob)
    full = stream.ideal_latent_bits(arm_ints, fracs, latents, arch)
    sampled = stream.ideal_latent_bits(arm_ints, fracs, latents, arch, stride=3)
    assert full > 0 and sampled != full and abs(sampled - full) < 0.25 * full
