"""The parallel job runner of the benchmarks: results cached per job, dead workers reported."""

from concurrent.futures.process import BrokenProcessPool

import pytest

from pipelines.bench.inr_jobs import run_inr_jobs
from tests.bench.pool_jobs import dying_job, echo_job


def test_parallel_jobs_return_every_record_in_order_and_resume_from_the_cache(tmp_path):
    items = [("a.png", 30), ("b.png", 40)]
    cache = tmp_path / "records.jsonl"
    records = run_inr_jobs(items, [0.5, 1.0], codec="x", settings={}, cache=cache, jobs=2, log=lambda _: None,
                           fit_job=echo_job)
    assert [(r["file"], r["param"], r["psnr"]) for r in records] == [
        ("a.png", 0.5, 30), ("a.png", 1.0, 30), ("b.png", 0.5, 40), ("b.png", 1.0, 40)]
    again = run_inr_jobs(items, [0.5, 1.0], codec="x", settings={}, cache=cache, jobs=2, log=lambda _: None,
                         fit_job=dying_job)  # everything is cached: no job runs
    assert again == records


def test_a_dead_worker_stops_the_run_instead_of_hanging(tmp_path):
    with pytest.raises(BrokenProcessPool):
        run_inr_jobs([("a.png", 1), ("b.png", 2)], [0.5], codec="x", settings={}, cache=tmp_path / "r.jsonl",
                     jobs=2, log=lambda _: None, fit_job=dying_job)
