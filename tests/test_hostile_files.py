"""Hostile .inrc files: the decoder decodes them or raises InrcodecError, nothing else."""

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import inrcodec
from inrcodec import container
from inrcodec.bitstream import Writer
from pipelines.fuzz.mutate import MUTATIONS, chunk_spans, fix_crc, mutate
from pipelines.fuzz.outcome import CLEAN_ERROR, DECODED, decode_outcome

GOLDEN = Path(__file__).resolve().parent / "golden"
GOLDEN_FILES = sorted(p.name for p in GOLDEN.glob("*.inrc"))


@pytest.mark.parametrize("name", GOLDEN_FILES)
@settings(max_examples=35, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(MUTATIONS)), seed=st.integers(0, 2**31 - 1))
def test_mutated_file_decodes_or_raises_a_clean_error(name, kind, seed):
    outcome, detail = decode_outcome(mutate((GOLDEN / name).read_bytes(), kind, seed))
    assert outcome in (DECODED, CLEAN_ERROR), f"{kind} seed {seed}: {detail}"


# Variants that the long fuzz run (pipelines/fuzz/run.py) found escaping as other exceptions.
FOUND_BY_FUZZING = [("image-hashgrid.inrc", "bit_flips", 322), ("image-hashgrid.inrc", "random_span", 696),
                    ("image-siren.inrc", "bit_flips", 406),
                    # a latent-video header with previous_radius 52750: its context was listed before the range check
                    ("video-latentvideo.inrc", "header_field_lie", 386)]


@pytest.mark.parametrize("name, kind, seed", FOUND_BY_FUZZING)
def test_variants_found_by_fuzzing_raise_clean_errors(name, kind, seed):
    outcome, detail = decode_outcome(mutate((GOLDEN / name).read_bytes(), kind, seed))
    assert outcome == CLEAN_ERROR, detail


def test_every_mutation_changes_the_file():
    blob = (GOLDEN / "image-hashgrid.inrc").read_bytes()
    for kind in MUTATIONS:
        assert any(mutate(blob, kind, seed) != blob for seed in range(4)), kind


def test_chunk_spans_find_the_four_chunks():
    blob = (GOLDEN / "image-hashgrid.inrc").read_bytes()
    parsed = container.unpack(blob)
    assert [length for _, _, length in chunk_spans(blob)] == list(parsed.chunk_sizes().values())


def _chunks(name: str) -> container.Container:
    return container.unpack((GOLDEN / name).read_bytes())


def test_network_that_does_not_fit_the_modality_is_rejected():
    image, audio = _chunks("image-hashgrid.inrc"), _chunks("audio-hashgrid.inrc")
    chimera = container.pack(container.Container(image.signal, audio.model, audio.tensors, audio.payload))
    with pytest.raises(inrcodec.FormatError, match="coordinates"):
        inrcodec.decode(chimera)


def test_render_beyond_the_sample_limit_is_refused_before_allocating():
    image = _chunks("image-hashgrid.inrc")
    w = Writer()
    for value in (1, 1 << 16, 1 << 12, 3, 8):  # wire code, 65536 x 4096 pixels, 3 channels, 8-bit
        w.uvarint(value)
    huge = container.pack(container.Container(w.getvalue(), image.model, image.tensors, image.payload))
    with pytest.raises(inrcodec.ConfigError, match="exceeds the limit .* use a smaller --scale"):
        inrcodec.decode(huge, scale=2)


def test_a_header_beyond_the_sample_limit_is_a_corrupt_file_not_a_scale_to_lower():
    from inrcodec.modalities import write_signal_chunk
    from inrcodec.modalities.registry import read_signal_chunk

    video = _chunks("video-motion.inrc")
    modality, meta = read_signal_chunk(video.signal)
    huge = dataclasses.replace(video, signal=write_signal_chunk(modality, dict(meta, height=16384, width=16384)))
    with pytest.raises(inrcodec.FormatError, match="header declares 1073741824 samples"):
        inrcodec.decode(container.pack(huge))


def test_crc_fix_keeps_valid_files_valid():
    blob = (GOLDEN / "audio-hashgrid.inrc").read_bytes()
    assert fix_crc(blob) == blob


def _point_cloud_variant(depth: int | None = None, points: int | None = None) -> bytes:
    """The golden point cloud with another octree depth or point count in its headers."""
    from inrcodec.inr import read_arch, write_arch
    from inrcodec.modalities import POINTCLOUD, read_signal_chunk, write_signal_chunk

    parsed = _chunks("pointcloud-colour.inrc")
    arch = read_arch(parsed.model)
    _, meta = read_signal_chunk(parsed.signal)
    return container.pack(dataclasses.replace(
        parsed, model=write_arch(arch.replace(depth=depth or arch.depth)),
        signal=write_signal_chunk(POINTCLOUD, {**meta, "points": points or meta["points"]})))


@pytest.mark.parametrize("points", [None, 1 << 24])
def test_octree_deeper_than_its_stream_is_refused(points):
    """Depth 16 where the stream codes 5: past its data the decoder reads padding, which the
    stream's bits cannot pay for (before, this decoded to 287 made-up points)."""
    with pytest.raises(inrcodec.FormatError, match="geometry chunk of 276 bytes cannot hold its octree"):
        inrcodec.decode(_point_cloud_variant(depth=16, points=points))


def test_octree_with_more_cells_than_points_is_refused():
    with pytest.raises(inrcodec.FormatError, match="more cells at depth 2 than the file's 40 points"):
        inrcodec.decode(_point_cloud_variant(points=40))
