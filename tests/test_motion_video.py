"""The frame-by-frame video codec (architecture ``motionvideo``): I and P frames, the decoder
rebuilding exactly what the encoder predicted from, rate and per-frame sizes, bad inputs."""

import dataclasses

import numpy as np
import pytest

import inrcodec
from inrcodec import config, container
from inrcodec.codecs.video import MOTION_VIDEO_CODEC, frames, motion
from inrcodec.errors import ConfigError, FormatError
from inrcodec.signal import Signal

# Seconds, not minutes: few steps, an I frame every four frames (I P P P I P).
TINY = ("arch.name=motionvideo", "arch.levels=3", "arch.synth_width=4", "arch.arm_width=4", "arch.arm_depth=1",
        "arch.convs=1", "video.motion_block_min=8", "video.motion_block_max=16", "video.gop=4", "video.intra_steps=60", "video.first_residual_steps=40",
        "video.residual_steps=20", "video.motion_refine_steps=10", "video.motion_search=3", "fit.steps_per_call=20")
TARGET_BPP = 4.0


def textured_clip(frames: int = 6, height: int = 29, width: int = 35) -> Signal:
    """A random texture moving two pixels right and one down per frame: motion pays. Odd
    sides: the motion blocks and latent grids overhang the frame."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (height + frames, width + 2 * frames, 3)).astype(np.float64)
    texture = (texture + np.roll(texture, 1, 0) + np.roll(texture, 1, 1) + np.roll(texture, 1, (0, 1))) / 4
    data = np.stack([texture[frames - t : frames - t + height, 2 * (frames - t) : 2 * (frames - t) + width]
                     for t in range(frames)]).astype(np.uint8)
    meta = {"height": height, "width": width, "channels": 3, "frames": frames, "fps_num": 25, "fps_den": 1}
    return Signal("video", data, meta)


@pytest.fixture(scope="module")
def coded():
    clip = textured_clip()
    cfg = config.load("video", overrides=(*TINY, f"rate.target={TARGET_BPP}"))
    return clip, MOTION_VIDEO_CODEC.encode(clip, cfg)


def test_the_default_video_codec_is_frame_by_frame():
    assert config.load("video").arch.name == "motionvideo"


def test_decoder_frames_equal_the_encoders_reconstructions(coded):
    clip, encoded = coded
    decoded = inrcodec.decode(encoded.blob)
    assert decoded.data.shape == clip.data.shape and decoded.data.dtype == np.uint8
    assert np.array_equal(decoded.data, encoded.reconstruction)
    assert (decoded.meta["fps_num"], decoded.meta["fps_den"]) == (25, 1)


def test_frames_are_i_then_p_with_the_gop_and_p_frames_use_motion(coded):
    _, encoded = coded
    rows = inrcodec.info(encoded.blob)["frames"]
    assert [row["type"] for row in rows] == ["I", "P", "P", "P", "I", "P"]
    assert any(row.get("motion", 0) > 0 for row in rows if row["type"] == "P")


def test_rate_is_the_file_size_within_target_and_the_breakdown_sums_to_it(coded):
    clip, encoded = coded
    summary = inrcodec.info(encoded.blob)
    assert 8 * len(encoded.blob) / clip.data[..., 0].size <= TARGET_BPP
    assert summary["bytes"]["total"] == len(encoded.blob)
    assert sum(row["bytes"] for row in summary["frames"]) == summary["bytes"]["frames"]
    for row in summary["frames"]:
        parts = [v for k, v in row.items() if k not in ("type", "bytes")]
        assert sum(parts) == row["bytes"] and min(parts) >= 0
    assert summary["shared_networks_bytes"] == summary["bytes"]["tensors"] + summary["bytes"]["payload"]


def test_p_frames_predict_better_than_repeating_the_reference(coded):
    clip, encoded = coded
    decoded = inrcodec.decode(encoded.blob).data.astype(float)
    for t in (1, 2, 3, 5):
        repeat = np.mean((clip.data[t - 1].astype(float) - clip.data[t]) ** 2)
        assert np.mean((decoded[t] - clip.data[t]) ** 2) < repeat


def test_vectors_survive_coding_and_a_uniform_shift_is_found():
    rng = np.random.default_rng(1)
    vectors = rng.integers(-40, 40, (5, 7, 2))
    assert all(np.array_equal(got, want) for got, want in
               zip(motion.decode_vectors(motion.encode_vectors(vectors, 16), 70, 110), (vectors, 16)))
    clip = textured_clip(frames=3, height=32, width=32)
    found = motion.block_match(clip.data[0], clip.data[1], 8, 3)
    assert np.all(found[1:-1, 1:-1] == (-1, -2))  # content moved down 1 and right 2: it comes from up-left


def test_motion_vectors_of_a_corrupt_file_are_a_format_error():
    data = motion.encode_vectors(np.full((2, 2, 2), 3), 8)
    with pytest.raises(FormatError):
        motion.decode_vectors(data + b"\x01\x02\x03\x04\x05", 16, 16)
    with pytest.raises(FormatError, match="block"):
        motion.decode_vectors(b"\x09" + data[1:], 16, 16)


def test_frames_chunk_must_hold_every_frame_and_start_with_an_i_frame():
    p = frames.Record(frames.PREDICTED)
    i = frames.Record(frames.INTRA, image=b"x")
    with pytest.raises(FormatError, match="holds 1 frames"):
        frames.decode(frames.encode([i]), 2)
    with pytest.raises(FormatError, match="first frame"):
        frames.decode(frames.encode([p, p]), 2)
    with pytest.raises(FormatError):
        frames.decode(frames.encode([i, p]) + b"\x01", 2)


def test_a_truncated_frames_chunk_is_a_format_error(coded):
    _, encoded = coded
    parsed = container.unpack(encoded.blob)
    cut = container.pack(container.Container(parsed.signal, parsed.model, parsed.tensors, parsed.payload,
                                             frames=parsed.frames[:-7]))
    with pytest.raises(FormatError):
        inrcodec.decode(cut)


def test_fps_scale_and_scale_are_refused_naming_the_preset_that_has_them(coded):
    _, encoded = coded
    for options in ({"fps_scale": 2.0}, {"scale": 0.5}):
        with pytest.raises(ConfigError, match="hashgrid-cpu.yaml"):
            inrcodec.decode(encoded.blob, **options)


def test_a_target_below_the_first_frame_is_a_config_error():
    with pytest.raises(ConfigError, match="rate target too low"):
        MOTION_VIDEO_CODEC.encode(textured_clip(), config.load("video", overrides=(*TINY, "rate.target=0.001")))


@pytest.mark.parametrize("change", [{"frames": 1 << 20}, {"height": 16384, "width": 16384}, {"frames": 2}])
def test_a_header_that_lies_about_the_clip_is_a_format_error_before_any_allocation(coded, change):
    from inrcodec.modalities import REGISTRY
    from inrcodec.modalities.registry import read_signal_chunk, write_signal_chunk

    _, encoded = coded
    parsed = container.unpack(encoded.blob)
    modality, meta = read_signal_chunk(parsed.signal)
    lying = container.pack(dataclasses.replace(parsed, signal=write_signal_chunk(REGISTRY["video"], {**meta, **change})))
    with pytest.raises(FormatError):
        inrcodec.decode(lying)


def test_a_large_budget_doubles_the_residual_synthesis_and_a_small_one_keeps_it():
    from inrcodec.codecs.video import _networks_for_budget

    arch = config.load("video").arch
    wide = _networks_for_budget(arch, 1e7, 0.03, 6.0)
    assert wide.synth_width == 2 * arch.synth_width and wide.arm_width == arch.arm_width
    assert _networks_for_budget(arch, 1e4, 0.03, 6.0) == arch
    assert _networks_for_budget(arch, 1e7, 0.0, 6.0) == arch  # a share of zero turns it off
