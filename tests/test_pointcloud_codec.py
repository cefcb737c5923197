"""Point clouds through the library: lossless octree at the coded depth, colours, rate, exactness."""

from __future__ import annotations

import numpy as np
import pytest

import inrcodec
from inrcodec import occupancy, octree
from inrcodec.errors import ConfigError, FormatError, InputError
from tests.point_clouds import FAST_POINTS, sphere_cloud, voxel_set, write_ply


@pytest.fixture(scope="module")
def coloured(tmp_path_factory):
    path = tmp_path_factory.mktemp("pc") / "sphere.ply"
    points, colors = sphere_cloud()
    write_ply(path, points, colors)
    # The colour grid needs a few hundred steps at a brisk learning rate to fit the gradient.
    report = inrcodec.encode_report(path, overrides=[*FAST_POINTS, "arch.depth=6", "fit.steps=400", "fit.lr=0.03"])
    return path, points, colors, report


def test_round_trip_keeps_the_frame_and_every_occupied_voxel(coloured):
    path, points, _, report = coloured
    decoded = inrcodec.decode(report.blob)
    assert decoded.modality == "pointcloud" and decoded.data.shape[1] == 3
    expected = voxel_set(points, 6)
    assert voxel_set(np.concatenate([decoded.data, points.min(0, keepdims=True), points.max(0, keepdims=True)]),
                     6) >= expected
    assert len(decoded.data) == len(expected)  # one point per occupied voxel
    side = (points.max(0) - points.min(0)).max() / 64
    # Voxel centres, in the input's coordinates: within half a voxel of an input point per axis.
    from scipy.spatial import cKDTree

    distance, _ = cKDTree(points).query(decoded.data, p=np.inf)
    assert distance.max() <= side / 2 + 1e-12
    assert decoded.meta["input_points"] == len(points)


def test_colours_round_trip_close_to_the_input(coloured):
    *_, report = coloured
    assert report.metrics["rgb_psnr"] > 24.0
    decoded = inrcodec.decode(report.blob)
    assert decoded.attributes["colors"].dtype == np.uint8 and decoded.attributes["colors"].shape == decoded.data.shape


def test_rate_is_the_file_size_and_info_agrees(coloured):
    _, points, _, report = coloured
    assert report.rate["bpp"] == pytest.approx(8 * len(report.blob) / len(points))
    info = inrcodec.info(report.blob)
    assert info["bytes"]["total"] == len(report.blob) and info["bytes"]["geometry"] > 0
    assert info["modality"] == "pointcloud" and info["architecture"]["depth"] == 6


def test_bpp_target_picks_a_shallower_octree_that_fits(tmp_path):
    points, _ = sphere_cloud(3000, seed=1)
    path = write_ply(tmp_path / "plain.ply", points)
    report = inrcodec.encode_report(path, bpp=3.0, overrides=[*FAST_POINTS, "arch.depth=8"])
    assert 8 * len(report.blob) <= 3.0 * len(points)
    assert inrcodec.info(report.blob)["architecture"]["depth"] < 8
    assert "colors" not in inrcodec.decode(report.blob).attributes


def test_same_seed_same_file(tmp_path):
    points, _ = sphere_cloud(200, seed=2)
    path = write_ply(tmp_path / "small.ply", points)
    options = dict(overrides=[*FAST_POINTS, "arch.depth=5"], seed=3)
    assert inrcodec.encode(path, **options) == inrcodec.encode(path, **options)


def test_fixed_point_logits_do_not_depend_on_batching():
    rng = np.random.default_rng(0)
    cells = octree.unique_cells(rng.integers(0, 16, (300, 3)), 4)
    features = occupancy.cell_features(cells, cells, 4).reshape(-1, occupancy.FEATURES)
    ints = [rng.integers(-40, 40, shape) for shape in [(occupancy.FEATURES, 8), (8, 8), (8, 1)]]
    ints += [rng.integers(-50, 50, shape[1:]) for shape in [(occupancy.FEATURES, 8), (8, 8), (8, 1)]]
    fracs = [5, 5, 7, 5, 5, 7]
    whole = occupancy.integer_logits(ints, fracs, features)
    order = rng.permutation(len(features))
    parts = np.concatenate([occupancy.integer_logits(ints, fracs, features[order][i : i + 37])
                            for i in range(0, len(order), 37)])
    assert np.array_equal(parts, whole[order])
    assert whole.min() < 0 < whole.max()  # the test exercises both sides of the table


def test_probability_table_is_monotone_and_symmetric():
    table = occupancy.PROBABILITY_TABLE
    assert np.all(np.diff(table) >= 0) and table[0] >= 1 and table[-1] < 1 << occupancy.PROB_BITS
    assert np.all(np.abs(table + table[::-1] - (1 << occupancy.PROB_BITS)) <= 1)
    assert table[occupancy.LOGIT_LIMIT] == 1 << (occupancy.PROB_BITS - 1)


@pytest.mark.parametrize("damage", ["cut", "extend", "odd length", "missing"])
def test_damaged_geometry_is_a_format_error(coloured, damage):
    *_, report = coloured
    from inrcodec import container

    parsed = container.unpack(report.blob)
    geometry = {"cut": parsed.geometry[: len(parsed.geometry) // 2], "extend": parsed.geometry + bytes(range(1, 65)),
                "odd length": parsed.geometry[:-1], "missing": None}[damage]
    blob = container.pack(container.Container(parsed.signal, parsed.model, parsed.tensors, parsed.payload, geometry))
    with pytest.raises(FormatError):
        inrcodec.decode(blob)


def test_scale_is_refused_for_point_clouds(coloured):
    with pytest.raises(ConfigError, match="scale"):
        inrcodec.decode(coloured[3].blob, scale=2.0)


def _bad_clouds(tmp_path):
    """name -> (path, fragment of the expected message)."""
    points, _ = sphere_cloud(50)
    nan = points.copy()
    nan[3, 1] = np.nan
    header = "ply\nformat ascii 1.0\nelement vertex {n}\nproperty float x\nproperty float y\nproperty float z\n"
    faces_only = tmp_path / "faces.ply"
    faces_only.write_text("ply\nformat ascii 1.0\nelement face 1\nproperty list uchar int vertex_indices\n"
                          "end_header\n3 0 1 2\n")
    empty = tmp_path / "empty.ply"
    empty.write_text(header.format(n=0) + "end_header\n")
    text = tmp_path / "notes.ply"
    text.write_text("these are not points\n")
    same = tmp_path / "same.ply"
    same.write_text(header.format(n=3) + "end_header\n" + "1 2 3\n" * 3)
    truncated = tmp_path / "truncated.ply"
    truncated.write_text(header.format(n=10) + "end_header\n1 2 3\n4 5 6\n")
    return {
        "faces only": (faces_only, "no vertices"),
        "empty": (empty, "no vertices"),
        "not a PLY": (text, "not a PLY file"),
        "NaN": (write_ply(tmp_path / "nan.ply", nan, ascii=True), "NaN"),
        "identical": (same, "identical"),
        "truncated": (truncated, "truncated"),
    }


def test_bad_point_clouds_raise_input_errors_naming_the_file(tmp_path):
    for name, (path, fragment) in _bad_clouds(tmp_path).items():
        with pytest.raises(InputError, match=fragment) as caught:
            inrcodec.load(path)
        assert str(path) in str(caught.value), name


def test_known_child_neighbours_all_have_parents_of_the_other_phase():
    """Phase-1 children may only look at children of phase-0 parents (decoded before them)."""
    offsets = octree.known_child_neighbour_offsets()
    assert offsets.shape == (8, 13, 3)
    for corner, child_offsets in zip(octree.CHILD_OFFSETS, offsets):
        assert len({tuple(o) for o in child_offsets}) == 13
        parent_offsets = (corner + child_offsets) >> 1  # relative to the parent, at the parent level
        assert np.all(np.count_nonzero(parent_offsets, axis=1) % 2 == 1)
        phases = octree.phases(np.array([[5, 8, 3]]) + parent_offsets)
        assert np.all(phases != octree.phases(np.array([[5, 8, 3]])))


def test_a_small_cloud_gets_a_narrower_network_when_that_makes_the_file_smaller(tmp_path):
    points, _ = sphere_cloud(400, seed=4)
    path = write_ply(tmp_path / "small.ply", points)
    blob = inrcodec.encode(path, overrides=[*FAST_POINTS, "arch.depth=6", "arch.context_width=16"])
    assert inrcodec.info(blob)["architecture"]["context_width"] < 16
    assert voxel_set(inrcodec.decode(blob).data, 6) == voxel_set(points, 6)
