import dataclasses
import functools
import json

import numpy as np
import pytest

from pipelines.bench.pointcloud_bench import Draco
from pipelines.bench.run import run
from pipelines.bench.specs import POINTCLOUD
from tests.point_clouds import FAST_POINTS, sphere_cloud, write_ply


def test_draco_round_trip_keeps_every_point_near_its_source(tmp_path):
    from scipy.spatial import cKDTree

    from inrcodec.modalities.pointcloud import POINTCLOUD

    signal = POINTCLOUD.read(write_ply(tmp_path / "c.ply", *sphere_cloud(300)))
    blob, decoded, *_ = Draco().encode_decode(signal, 11)
    assert len(blob) > 0 and decoded.data.shape == signal.data.shape
    distance, source = cKDTree(signal.data).query(decoded.data, p=np.inf)  # Draco reorders points
    assert distance.max() < 4.0 / 2**11  # a 4-unit cube at 11 bits per axis
    assert np.array_equal(decoded.attributes["colors"], signal.attributes["colors"][source])


def test_benchmark_writes_results_plots_tables_and_resumes(tmp_path):
    write_ply(tmp_path / "sphere.ply", sphere_cloud()[0])  # the geometry test_pointcloud_codec codes at depth 6
    (tmp_path / "MANIFEST.md").write_text("not a cloud")
    out = tmp_path / "out"
    messages = []
    spec = dataclasses.replace(POINTCLOUD, codecs={"draco": functools.partial(Draco, qualities=(5, 6, 7, 8, 9))})
    options = dict(targets=(3, 4, 5, 6), overrides=FAST_POINTS, log=messages.append)
    summary = run(spec, [tmp_path], out, **options)
    document = json.loads((out / "results.json").read_text())
    inr = [r for r in document["records"] if r["codec"] == "inrcodec"]
    assert [r["param"] for r in inr] == [3, 4, 5, 6] and all(r["bytes"] > 0 for r in inr)
    assert summary["bd"]["draco"]["bd_rate"] is not None
    assert document["summary"]["d2"]["dist_key"] == "d2_psnr"
    assert (out / "rd.png").read_bytes()[:4] == b"\x89PNG" and (out / "rd-d2.png").exists()
    assert "| draco |" in (out / "summary.md").read_text()

    messages.clear()
    run(spec, [tmp_path / "sphere.ply"], out, **options)
    assert "4 cached, 0 to fit" in messages[0]


def test_rate_points_must_be_depths(tmp_path):
    with pytest.raises(ValueError, match="depths"):
        run(POINTCLOUD, [tmp_path], tmp_path / "out", targets=(0.5, 1.0))
