"""The order of the tensors in a file is fixed by name (weights.wire_order), not by how the
Equinox modules happen to declare their fields: reordering a field fails here instead of
silently changing the bytes of every file."""

from __future__ import annotations

import pytest

from inrcodec import weights
from inrcodec.inr import HashGridConfig, LatentGridConfig, LatentVideoConfig, MotionVideoConfig, PointFieldsConfig, SirenConfig

CONFIGS = [
    SirenConfig(), SirenConfig(depth=1), HashGridConfig(), HashGridConfig(levels=3, mlp_depth=2),
    LatentGridConfig(), LatentGridConfig(arm_depth=0, synth_depth=0, convs=0), LatentVideoConfig(convs=4),
    MotionVideoConfig(arm_depth=1, convs=1),
    PointFieldsConfig(), PointFieldsConfig(out_dim=3, context_depth=3),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: repr(c)[:60])
def test_tensors_are_walked_in_the_written_down_order(config):
    assert weights.leaf_names(config) == weights.wire_order(config)


def test_latent_grid_order_written_out_in_full():
    """One list spelled out by hand, as docs/format.md gives it."""
    assert weights.wire_order(LatentGridConfig()) == [
        "arm_weights[0]", "arm_weights[1]", "arm_weights[2]", "arm_biases[0]", "arm_biases[1]", "arm_biases[2]",
        "arm_linear", "synth_weights[0]", "synth_weights[1]", "synth_biases[0]", "synth_biases[1]",
        "conv_weights[0]", "conv_weights[1]", "conv_biases[0]", "conv_biases[1]"]
