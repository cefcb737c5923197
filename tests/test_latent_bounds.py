"""The latent-grid decoder bounds its work by the file before allocating: a header that declares
more latents than the latents chunk can hold fails at once, and the synthesis renders in tiles
that give the same pixels as one whole render."""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import inrcodec
from inrcodec import container, latent_arm
from inrcodec.bitstream import Writer
from inrcodec.codecs.latent import stream
from inrcodec.inr.latentgrid import LatentGridConfig, LatentVideoConfig
from inrcodec.modalities import read_signal_chunk, write_signal_chunk
from tests.cli_runs import assert_one_line_error, invoke

GOLDEN = Path(__file__).resolve().parent / "golden"
tiling = importlib.import_module("inrcodec.codecs.latent.tiling")


def with_size(name: str, height: int, width: int, latents: bytes | None = None) -> bytes:
    """A golden latent-grid file whose header declares another size (the CRC recomputed)."""
    parsed = container.unpack((GOLDEN / name).read_bytes())
    modality, meta = read_signal_chunk(parsed.signal)
    signal = write_signal_chunk(modality, {**meta, "height": height, "width": width})
    return container.pack(dataclasses.replace(parsed, signal=signal, latents=latents or parsed.latents))


@pytest.mark.parametrize("call", [inrcodec.info, inrcodec.decode, inrcodec.decode_integers])
def test_header_declaring_more_latents_than_the_chunk_holds_is_refused(call):
    blob = with_size("image-latentgrid.inrc", 16384, 16384)
    with pytest.raises(inrcodec.FormatError, match="latents chunk of 64 bytes cannot hold its latents"):
        call(blob)


def test_command_line_refuses_the_hostile_header_in_one_line(tmp_path):
    path = tmp_path / "big.inrc"
    path.write_bytes(with_size("image-latentgrid.inrc", 16384, 16384))
    for command in (["info", path], ["decode", path, "-o", tmp_path / "big.png"]):
        assert_one_line_error(invoke(*command), "cannot hold its latents")
    assert not (tmp_path / "big.png").exists()


def test_latent_count_beyond_the_limit_is_refused():
    """Image headers stop below the limit; a video's frames can pass it."""
    shapes = LatentVideoConfig(levels=2).grid_shapes((1 << 12, 1 << 9, 1 << 9))
    with pytest.raises(inrcodec.FormatError, match="latents exceed the decoder's limit"):
        stream.check_latent_count(shapes)
    assert stream.check_latent_count(shapes[1:]) == 1 << 27


def test_desynchronised_decoder_stops_when_it_has_decoded_more_than_the_chunk_holds():
    # 256 x 256 passes the bound before decoding (the latents could all be very probable),
    # but the latents decoded from the 24 x 24 file's bytes are not: the decoder stops early.
    with pytest.raises(inrcodec.FormatError, match="cannot hold its latents"):
        inrcodec.decode_integers(with_size("image-latentgrid.inrc", 256, 256))


def test_one_value_alphabet_allocates_nothing_per_latent():
    w = Writer()
    w.svarint(1)
    w.uvarint(0)
    latents = inrcodec.decode_integers(with_size("image-latentgrid.inrc", 4096, 4096, w.getvalue()))[-3:]
    assert [q.shape for q in latents] == [(4096, 4096), (2048, 2048), (1024, 1024)]
    assert all(q.strides == (0, 0) and np.all(q == 1) for q in latents)


@pytest.mark.parametrize("low, high", [(0, 1), (-2, 6), (-40, 3)])
def test_max_probability_bounds_every_row(low, high):
    """The bound holds for every ARM output: every mean (quarter steps, inside and around the
    alphabet) at every scale index."""
    bound = latent_arm.max_probability(low, high)
    reach = 4 * (high - low + 1) + 16
    means = np.arange(4 * low - reach, 4 * high + reach)
    largest = max(float(np.max(rows.max(axis=1) / rows.sum(axis=1)))
                  for rows in (latent_arm.pmf_rows(means, np.full(means.size, s), low, high)
                               for s in range(latent_arm.SCALES)))
    assert largest <= bound < 1
    assert bound - largest < 1e-6  # and is close: it bounds the work of hostile headers


def _reference_wavefronts(shape, offsets):
    """The first implementation: every position's wavefront number at once, sorted."""
    weights = latent_arm.wavefront_weights(shape, offsets)
    index = sum(w * i for w, i in zip(weights, np.indices(shape))).reshape(-1)
    order = np.argsort(index, kind="stable")
    starts = np.flatnonzero(np.diff(index[order], prepend=-1))
    positions = np.unravel_index(order, shape)
    return [tuple(axis[a:b] for axis in positions) for a, b in zip(starts, list(starts[1:]) + [order.size])]


@pytest.mark.parametrize("arch, shape", [
    (LatentGridConfig(), (13, 9)), (LatentGridConfig(), (1, 7)), (LatentGridConfig(), (6, 1)),
    (LatentGridConfig(context_rows=0, context_cols=1), (5, 4)), (LatentGridConfig(context_rows=3, context_cols=0), (4, 6)),
    (LatentVideoConfig(), (3, 5, 7)), (LatentVideoConfig(previous_radius=2), (4, 1, 6)),
    (LatentVideoConfig(previous_radius=0, context_rows=1, context_cols=0), (2, 9, 3)),
])
def test_wavefronts_generated_one_at_a_time_keep_the_coding_order(arch, shape):
    expected = _reference_wavefronts(shape, arch.offsets())
    got = list(latent_arm.wavefronts(shape, arch.offsets()))
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        assert all(np.array_equal(a, b) for a, b in zip(mine, theirs))


@pytest.mark.parametrize("arch, coded, rendered, tile", [
    (LatentGridConfig(in_dim=2, out_dim=3, levels=4, convs=2), (37, 29), (37, 29), 8),
    (LatentGridConfig(in_dim=2, out_dim=3, levels=4, convs=3), (37, 29), (37, 29), 5),
    (LatentGridConfig(in_dim=2, out_dim=3, levels=4, convs=2), (37, 29), (70, 61), 16),  # --scale 2
    (LatentGridConfig(in_dim=2, out_dim=1, levels=3, convs=1), (37, 29), (18, 15), 4),  # --scale 0.5
    (LatentVideoConfig(out_dim=3, levels=3, convs=2), (5, 13, 11), (9, 13, 11), 4),  # --fps-scale 2
])
def test_tiled_render_equals_the_whole_render(monkeypatch, arch, coded, rendered, tile):
    monkeypatch.setattr(tiling, "TILE", tile)
    monkeypatch.setattr(tiling, "TILE_FRAMES", 2)
    keys = iter(jax.random.split(jax.random.PRNGKey(1), 64))
    net = arch.build(next(keys))  # random convolutions: the identity start would hide a wrong halo
    net = jax.tree_util.tree_map(lambda x: x + 0.2 * jax.random.normal(next(keys), x.shape), net)
    latents = [np.random.default_rng(0).integers(-40, 40, s) for s in arch.grid_shapes(coded)]
    step = arch.latent_step()
    whole = np.asarray(net.synthesize([jnp.asarray(q * step, jnp.float32) for q in latents], rendered))
    tiled = tiling.render(net, latents, step, rendered, arch.convs)
    assert tiled.shape == whole.shape
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-4 * np.abs(whole).max())
