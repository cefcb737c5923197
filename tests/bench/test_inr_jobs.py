"""The parallel job runner of the benchmarks: results cached per job and per configuration, dead
workers reported."""

import json
import subprocess
from concurrent.futures.process import BrokenProcessPool

import pytest

from pipelines.bench.inr_jobs import git_revision, inr_settings, run_inr_jobs
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


def _run_cached(cache, settings, messages):
    return run_inr_jobs([("a.png", 30)], [0.5], codec="x", settings=settings, cache=cache, log=messages.append,
                        fit_job=echo_job)


def test_a_record_is_reused_under_the_same_resolved_config_and_refitted_under_another(tmp_path):
    cache, messages = tmp_path / "records.jsonl", []
    first = _run_cached(cache, inr_settings("image", None, None, ["fit.steps=100"], crop=32), messages)
    # The same configuration, asked for another way (and with another per-job rate target).
    same = inr_settings("image", None, 100, ["rate.target=3"], crop=32)
    assert _run_cached(cache, same, messages) == first
    assert messages[-1].startswith("x: 1 cached, 0 to fit")
    for other in (inr_settings("image", None, None, ["fit.steps=200"], crop=32),
                  inr_settings("image", None, None, ["fit.steps=100"], crop=48)):
        messages.clear()
        assert _run_cached(cache, other, messages)[0]["settings"] == other
        assert messages[0].startswith("x: 0 cached, 1 to fit")


def test_records_without_a_config_fingerprint_are_refitted(tmp_path):
    settings = inr_settings("image", None, None, [], crop=32)
    old = {key: settings[key] for key in ("config", "steps", "overrides", "version", "crop")}
    cache, messages = tmp_path / "records.jsonl", []
    cache.write_text(json.dumps(echo_job(("x", old, "a.png", 30, 0.5))) + "\n")
    assert _run_cached(cache, settings, messages)[0]["settings"] == settings
    assert messages[0].startswith("x: 0 cached, 1 to fit")


def test_a_record_carries_the_git_revision_of_its_code(tmp_path):
    records = _run_cached(tmp_path / "records.jsonl", {}, [])
    assert records[0]["git"] == git_revision()


def test_the_git_revision_is_the_short_head_and_says_when_the_tree_is_dirty(tmp_path):
    assert git_revision(tmp_path) is None  # not a checkout
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f.py").write_text("a = 1\n")
    subprocess.run([*git, "add", "f.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "f"], check=True)
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True)
    assert git_revision(tmp_path) == head.stdout.strip()
    (tmp_path / "f.py").write_text("a = 2\n")
    assert git_revision(tmp_path) == head.stdout.strip() + "-dirty"
