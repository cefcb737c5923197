"""Point clouds through the command line: fit, decode to a PLY that Open3D reads, info, mistakes."""

from __future__ import annotations

import json

import numpy as np

from tests.cli_runs import assert_fit_refuses_each, assert_one_line_error, invoke, set_options
from tests.point_clouds import FAST_POINTS, sphere_cloud, voxel_set, write_ply
from tests.test_pointcloud_codec import _bad_clouds

SET_FAST = set_options(FAST_POINTS)


def test_fit_decode_info_with_colours(tmp_path):
    # The cloud and settings of test_pointcloud_codec's coloured fixture: the same compiled programs.
    points, colors = sphere_cloud()
    source = write_ply(tmp_path / "scan.ply", points, colors, ascii=True)
    fitted = invoke("fit", source, "--depth", "6", *SET_FAST, *set_options(["fit.steps=400", "fit.lr=0.03"]))
    assert fitted.exit_code == 0, fitted.stderr
    assert "600 points" in fitted.stdout and "bits/point" in fitted.stdout and "d1_psnr" in fitted.stdout
    assert "rgb_psnr" in fitted.stdout
    coded = tmp_path / "scan.inrc"
    decoded = invoke("decode", coded, "-o", tmp_path / "out.ply")
    assert decoded.exit_code == 0, decoded.stderr

    from inrcodec.modalities.pointcloud import open3d

    cloud = open3d().io.read_point_cloud(str(tmp_path / "out.ply"))
    assert voxel_set(np.asarray(cloud.points), 6) == voxel_set(points, 6)
    assert cloud.has_colors() and len(cloud.colors) == len(cloud.points)
    info = json.loads(invoke("info", coded).stdout)
    assert info["signal"]["points"] == 600 and info["signal"]["colour"] is True
    assert info["bytes"]["total"] == coded.stat().st_size


def test_extra_vertex_properties_are_named_in_a_note(tmp_path):
    points, _ = sphere_cloud(200, seed=2)  # the cloud of test_pointcloud_codec's same-seed test
    source = tmp_path / "scanner.ply"
    rows = "".join(f"{x} {y} {z} 0.5\n" for x, y, z in points)
    source.write_text("ply\nformat ascii 1.0\nelement vertex 200\nproperty float x\nproperty float y\n"
                      f"property float z\nproperty float confidence\nend_header\n{rows}")
    fitted = invoke("fit", source, "--depth", "5", *SET_FAST)
    assert fitted.exit_code == 0, fitted.stderr
    assert "'confidence' is not coded" in fitted.stderr


def test_depth_is_for_point_clouds_and_bounded(tmp_path, tiny_png):
    source = write_ply(tmp_path / "c.ply", sphere_cloud(50)[0])
    assert_one_line_error(invoke("fit", source, "--depth", "17"), "--depth")
    assert_one_line_error(invoke("fit", tiny_png, "--depth", "6"), "point clouds")
    assert_one_line_error(invoke("fit", source, "--kbps", "8"), "--bpp")
    assert not source.with_suffix(".inrc").exists()


def test_bad_point_clouds_fail_with_one_line_and_no_output(tmp_path):
    assert_fit_refuses_each(_bad_clouds(tmp_path), tmp_path)
