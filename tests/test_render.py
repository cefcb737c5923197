"""Rendering a part at a time: the same samples as a whole render, for every modality's grid."""

import functools

import jax
import numpy as np
import pytest

from inrcodec.fit import RENDER_PART, render, render_parts
from inrcodec.inr.siren import SirenConfig
from inrcodec.modalities import REGISTRY


@pytest.mark.parametrize("modality,meta,expected", [
    ("audio", {"frames": 4, "sample_rate": 8000, "channels": 1}, [[-0.75], [-0.25], [0.25], [0.75]]),
    ("image", {"height": 2, "width": 3, "channels": 3, "bits": 8},
     [[x, y] for y in (-0.5, 0.5) for x in (-2 / 3, 0.0, 2 / 3)]),
])
def test_render_coordinates_are_sample_centres_in_sample_order(modality, meta, expected):
    coords = REGISTRY[modality].render_coords(meta, 1.0)
    np.testing.assert_allclose(coords, np.array(expected, np.float32), atol=1e-7)
    assert coords.dtype == np.float32
    # Any slice is the same points as the whole grid's.
    np.testing.assert_array_equal(REGISTRY[modality].render_coords(meta, 1.0, 1.0, 1, 3), coords[1:3])


def test_video_coordinates_are_frame_major_with_time_last():
    meta = {"frames": 3, "height": 2, "width": 2, "fps_num": 25, "fps_den": 1}
    video = REGISTRY["video"]
    coords = video.render_coords(meta, 1.0)
    assert coords.shape == (12, 3)
    assert len(np.unique(coords[:4, 2])) == 1 and coords[4, 2] > coords[0, 2]  # t constant within a frame
    np.testing.assert_array_equal(coords[:2, 1], coords[:2, 1][0])  # a row of a frame shares y
    np.testing.assert_array_equal(video.render_coords(meta, 1.0, 1.0, 5, 11), coords[5:11])


def test_a_render_in_parts_equals_one_render_and_converts_each_part():
    audio = REGISTRY["audio"]
    meta = {"frames": RENDER_PART + 12345, "sample_rate": 48000, "channels": 1, "subtype": "PCM_16"}
    model = SirenConfig(in_dim=1, out_dim=1, width=8, depth=1).build(jax.random.PRNGKey(0))
    whole = audio.output_values(np.asarray(render(model, audio.render_coords(meta, 1.0))), meta)
    parts = render_parts(model, functools.partial(audio.render_coords, meta, 1.0, 1.0), meta["frames"],
                         lambda values: audio.output_values(values, meta))
    assert parts.dtype == np.float32 and parts.shape == (meta["frames"], 1)
    np.testing.assert_array_equal(parts, whole)
