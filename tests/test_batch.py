"""Batch compression on a real local Ray instance: mixed inputs, a corrupt file, a killed worker."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v3 as iio
import pytest

import inrcodec
from pipelines.batch.inputs import collect
from pipelines.batch.run import LOCAL_OBJECT_STORE, RESULTS, _worker_env, run_batch
from tests.audio_clips import tone_clip, write_clip
from tests.batch_jobs import pack_job_killed_once
from tests.conftest import crop_of_sample

ray = pytest.importorskip("ray")
OPTIONS = {"steps": 100, "overrides": ["arch.name=hashgrid", "fit.steps_per_call=50", "arch.levels=4", "arch.table_size=64"]}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, object_store_memory=LOCAL_OBJECT_STORE, include_dashboard=False, log_to_driver=False,
             configure_logging=False, runtime_env={"env_vars": _worker_env(1, 0)})
    yield
    ray.shutdown()


def _dataset(root: Path) -> Path:
    """Four 16x16 crops (two in a subfolder), a short tone, and a corrupt PNG."""
    image = crop_of_sample(64)
    (root / "sub").mkdir(parents=True)
    for i, name in enumerate(["a.png", "b.png", "sub/c.png", "sub/d.png"]):
        iio.imwrite(root / name, image[16 * i : 16 * i + 16, :16])
    write_clip(root / "sub" / "tone.wav", tone_clip(0.05), 8000, "PCM_16")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    return root


def test_batch_codes_every_input_and_reports_the_corrupt_one(tmp_path, local_ray):
    source, out = _dataset(tmp_path / "in"), tmp_path / "out"
    records = run_batch(collect(source, out), out, options=OPTIONS)

    by_name = {Path(r["path"]).name: r for r in records}
    assert len(records) == 6
    assert by_name["broken.png"]["status"] == "failed" and "broken.png" in by_name["broken.png"]["error"]
    for name in ["a.png", "b.png", "c.png", "d.png", "tone.wav"]:
        record = by_name[name]
        assert record["status"] == "ok", record
        assert record["bytes"] == Path(record["output"]).stat().st_size
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.inrc")) == [
        "a.inrc", "b.inrc", "sub/c.inrc", "sub/d.inrc", "sub/tone.inrc"]
    assert inrcodec.decode(out / "sub" / "tone.inrc").modality == "audio"
    assert inrcodec.decode(out / "sub" / "c.inrc").data.shape == (16, 16, 3)
    lines = [json.loads(line) for line in (out / RESULTS).read_text().splitlines()]
    assert [line["path"] for line in lines] == [r["path"] for r in records]

    # A rerun skips the finished outputs and tries the failed input again.
    (out / "b.inrc").write_bytes((out / "b.inrc").read_bytes()[:-1])  # a truncated output is redone
    again = {Path(r["path"]).name: r["status"] for r in run_batch(collect(source, out), out, options=OPTIONS)}
    assert again == {"a.png": "skipped", "b.png": "ok", "broken.png": "failed", "c.png": "skipped",
                     "d.png": "skipped", "tone.wav": "skipped"}
    inrcodec.decode(out / "b.inrc")


def test_packed_jobs_fit_same_shaped_signals_together_and_still_report_each(tmp_path, local_ray):
    source, out = _dataset(tmp_path / "in"), tmp_path / "out"
    records = run_batch(collect(source, out), out, options=OPTIONS, pack=3)

    by_name = {Path(r["path"]).name: r for r in records}
    assert by_name["broken.png"]["status"] == "failed" and "broken.png" in by_name["broken.png"]["error"]
    # Five PNGs in jobs of three: a, b, broken | c, d; the tone has a job of its own.
    assert [by_name[n]["pack"] for n in ["a.png", "b.png", "c.png", "d.png", "tone.wav"]] == [2, 2, 2, 2, 1]
    for name in ["a.png", "b.png", "c.png", "d.png", "tone.wav"]:
        record = by_name[name]
        assert record["status"] == "ok" and record["bytes"] == Path(record["output"]).stat().st_size, record
        inrcodec.decode(record["output"])


def test_a_killed_worker_is_retried_and_nothing_is_lost(tmp_path, local_ray):
    source, out = _dataset(tmp_path / "in"), tmp_path / "out"
    (source / "broken.png").unlink()
    marker = tmp_path / "kill-once"
    marker.write_text("")
    records = run_batch(collect(source, out), out, options={**OPTIONS, "kill_marker": str(marker)},
                        job=pack_job_killed_once)
    assert not marker.exists()  # one worker did die
    assert [r["status"] for r in records] == ["ok"] * 5
    assert sorted(r["attempts"] for r in records) == [1, 1, 1, 1, 2]
    for record in records:
        inrcodec.decode(record["output"])


def test_a_job_that_keeps_dying_is_recorded_as_failed(tmp_path, local_ray):
    source = tmp_path / "in"
    source.mkdir()
    iio.imwrite(source / "a.png", crop_of_sample(16))
    marker = tmp_path / "kill-once"
    marker.write_text("")
    out = tmp_path / "out"
    [record] = run_batch(collect(source, out), out, options={**OPTIONS, "kill_marker": str(marker)},
                         job=pack_job_killed_once, retries=0)
    assert record["status"] == "failed" and record["attempts"] == 1 and "died" in record["error"].lower()
    assert not (out / "a.inrc").exists()


def test_a_long_video_is_fitted_as_segment_tasks_and_assembled(tmp_path, local_ray):
    from tests.video_clips import WHOLE_CLIP_VIDEO, moving_clip, write_clip

    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    write_clip(source / "clip.mkv", moving_clip(frames=4))
    # Two frames a segment; few steps: the test is about segments, not quality.
    options = {"bpp": 8.0, "overrides": [*WHOLE_CLIP_VIDEO, "fit.steps=100", f"fit.max_samples={2 * 12 * 16}"]}
    [record] = run_batch(collect(source, out), out, options=options)
    assert record["status"] == "ok" and record["segments"] == 2, record
    assert record["bytes"] == (out / "clip.inrc").stat().st_size <= 8.0 * 4 * 12 * 16 / 8
    assert [s["signal"]["frames"] for s in inrcodec.info(out / "clip.inrc")["segments"]] == [2, 2]
    assert inrcodec.decode(out / "clip.inrc").data.shape == (4, 12, 16, 3)
