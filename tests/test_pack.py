"""Packed fits: same-shaped signals fitted side by side in one jitted program."""

from __future__ import annotations

import numpy as np

import inrcodec
from inrcodec import api
from inrcodec.api import can_pack
from inrcodec.codecs.weight_codec import encode_signal, encode_signals
from inrcodec.signal import Signal
from tests.audio_clips import tone_clip, write_clip
from tests.conftest import FAST, REPO, crop_of_sample


def _tile(offset: int, size: int = 16) -> Signal:
    image = np.ascontiguousarray(crop_of_sample(64)[offset : offset + size, :size])
    return Signal("image", image, {"height": size, "width": size, "channels": 3, "bits": 8})


def test_a_pack_codes_each_signal_as_a_fit_of_its_own_would():
    signals = [_tile(0), _tile(32)]
    config = api.make_config("image", target=6.0, overrides=FAST)
    packed = encode_signals(signals, config)
    for signal, file in zip(signals, packed):
        alone = encode_signal(signal, config)
        assert len(file.blob) * 8 <= 6.0 * 16 * 16
        assert abs(len(file.blob) - len(alone.blob)) <= 2
        assert abs(file.search_psnr - alone.search_psnr) < 0.05
        decoded = inrcodec.decode(file.blob)
        assert decoded.data.shape == signal.data.shape
        psnr = api.measure(signal, file).metrics["psnr"]
        assert abs(psnr - file.search_psnr) < 0.05


def test_signals_of_different_shapes_are_fitted_as_separate_packs_in_input_order():
    signals = [_tile(0), _tile(0, size=12), _tile(16), _tile(16, size=12), _tile(32)]
    config = api.make_config("image", overrides=FAST)
    fits = []

    def progress(phase, done, total, loss):
        if phase == "fit" and done == total:
            fits.append(done)

    encoded = encode_signals(signals, config, progress)
    assert len(fits) == 2  # one pack of three 16x16 tiles, one of two 12x12 tiles
    assert [inrcodec.decode(e.blob).data.shape[0] for e in encoded] == [16, 12, 16, 12, 16]


def test_audio_clips_of_one_length_pack_and_latent_grid_images_do_not(tmp_path):
    clips = [inrcodec.load(write_clip(tmp_path / f"{i}.wav", tone_clip(0.05, seed=i), 8000, "PCM_16")) for i in range(2)]
    config = api.make_config("audio", target=64, overrides=("fit.steps=100", "arch.levels=4", "arch.table_size=64"))
    assert all(can_pack(clip, config) for clip in clips)
    for clip, encoded in zip(clips, encode_signals(clips, config)):
        assert inrcodec.decode(encoded.blob).data.shape == clip.data.shape
        assert len(encoded.blob) * 8 <= 64_000 * 0.05
    assert not can_pack(_tile(0), api.make_config("image"))  # the image default is the latent grid
    assert can_pack(_tile(0), api.make_config("image", config=REPO / "configs" / "image" / "hashgrid-cpu.yaml"))
