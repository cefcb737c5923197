"""Batch compression on Ray: one fit job per signal, resumable, retried when a worker dies.

    inrcodec batch data/ -o out/                       # local Ray for the run, all cores
    inrcodec batch manifest.txt -o out/ --address auto # an existing cluster
    inrcodec batch tiles/ -o out/ --pack 32            # up to 32 same-shaped signals per fit job

Outputs mirror the inputs under ``out``; ``out/results.jsonl`` gets one line per input (written
as each job finishes, rewritten in input order at the end). A rerun skips inputs whose output
exists and passes the container's checksum, and redoes the rest.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from inrcodec.compile_cache import RELEASE_ENV
from inrcodec.errors import FormatError, InputError
from inrcodec.metrics import json_ready
from inrcodec.files import atomic_path
from pipelines import single_thread_xla_flags
from pipelines.batch.inputs import BatchItem
from pipelines.batch.job import FAILED, OK, SKIPPED, pack_job

RESULTS = "results.jsonl"
# Jobs exchange only paths and small records: a local Ray needs no 30 %-of-RAM object store.
LOCAL_OBJECT_STORE = 1 << 28


def run_batch(
    items: Sequence[BatchItem],
    out: Path,
    *,
    options: dict[str, Any] | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_job: float = 1,
    gpus_per_job: float = 0,
    retries: int = 2,
    pack: int = 1,
    job: Callable[..., list[dict[str, Any]]] = pack_job,
    show_progress: bool = False,
    unsupported: Sequence[Path] = (),
) -> list[dict[str, Any]]:
    """Code every item on Ray and return one record per item, in input order.

    ``options`` apply to every item (a manifest line's own options win). Each job codes up to
    ``pack`` items of one modality and the same options, fitting same-shaped signals together. A
    job whose worker dies is resubmitted up to ``retries`` times; a bad input is recorded as failed
    and the batch goes on. ``job(sources, outputs, options)`` returns a record per source and must
    be a module-level function (workers import it).
    """
    import ray

    out.mkdir(parents=True, exist_ok=True)
    results = out / RESULTS
    previous = {r["path"]: r for r in _read_records(results)}
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for item in items:
        if _is_complete(item.output):
            records[str(item.source)] = {**previous.get(str(item.source), {"path": str(item.source), "output": str(item.output)}),
                                         "status": SKIPPED}
        else:
            todo.append(item)

    started_here = not ray.is_initialized()
    if started_here:
        local = {"num_cpus": num_cpus, "object_store_memory": LOCAL_OBJECT_STORE} if address is None else {}
        # Ray announces on stderr that it enables token authentication for a local cluster (its
        # default, kept); the batch's own output is its summary.
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 runtime_env={"env_vars": _worker_env(cpus_per_job, gpus_per_job)}, **local)
    try:
        remote = ray.remote(job).options(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_retries=0)
        with _Progress(len(items), len(records), enabled=show_progress,
                       slots=_slots(ray.cluster_resources(), cpus_per_job, gpus_per_job)) as progress:
            for record in _run_jobs(remote, _packs(todo, dict(options or {}), pack), retries, progress):
                records[record["path"]] = record
                _append(results, record)
    finally:
        if started_here:
            ray.shutdown()
    ordered = [records[str(item.source)] for item in items] + [
        {"path": str(path), "status": SKIPPED, "reason": f"unsupported file type {path.suffix.lower() or '(none)'!r}"}
        for path in unsupported]
    with atomic_path(results) as tmp:
        tmp.write_text("".join(json.dumps(json_ready(r), allow_nan=False) + "\n" for r in ordered))
    return ordered


def _packs(todo: Sequence[BatchItem], options: dict[str, Any], size: int) -> list[tuple[list[BatchItem], dict]]:
    """Jobs of at most ``size`` items each that share a modality and options, in input order."""
    from inrcodec.modalities import modality_for_path

    groups: dict[tuple[str, str], tuple[list[BatchItem], dict]] = {}
    for item in todo:
        merged = {**options, **item.options}
        try:
            modality = modality_for_path(item.source).name
        except InputError:  # its job reports it
            modality = ""
        groups.setdefault((modality, json.dumps(merged, sort_keys=True, default=str)), ([], merged))[0].append(item)
    return [(items[i : i + size], merged) for items, merged in groups.values() for i in range(0, len(items), size)]


def _run_jobs(remote, jobs: Sequence[tuple[list[BatchItem], dict]], retries: int, progress):
    """Yield a record per item as its job finishes; resubmit jobs whose worker died."""
    import ray

    def submit(items: list[BatchItem], options: dict):
        return remote.remote([str(i.source) for i in items], [str(i.output) for i in items], options)

    pending = {submit(items, options): (items, options, 1) for items, options in jobs}
    running = sum(len(items) for items, _ in jobs)
    progress.running(running)
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        ref = ready[0]
        items, options, attempt = pending.pop(ref)
        try:
            records = [{**record, "attempts": attempt} for record in ray.get(ref)]
        except ray.exceptions.RayError as exc:  # the worker died, ran out of memory, or the job crashed
            if attempt <= retries:
                pending[submit(items, options)] = (items, options, attempt + 1)
                continue
            records = [{"path": str(item.source), "output": str(item.output), "status": FAILED,
                        "error": f"{type(exc).__name__}: {_first_line(exc)}", "attempts": attempt} for item in items]
        for record in records:
            running -= 1
            progress.finished(record, running)
            yield record


def _worker_env(cpus_per_job: float, gpus_per_job: float) -> dict[str, str]:
    env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false",  # several fits may share one GPU
           # A worker codes job after job: it releases each encode's compiled programs (a remote
           # cluster's workers do not inherit this process's environment).
           RELEASE_ENV: "1"}
    if gpus_per_job == 0:
        env["JAX_PLATFORMS"] = "cpu"
    if cpus_per_job <= 1:  # one XLA thread per job: N jobs then use N cores without oversubscription
        env["XLA_FLAGS"] = single_thread_xla_flags()
    return env


def _is_complete(path: Path) -> bool:
    """An earlier run finished this output: it exists and its checksum holds."""
    from inrcodec import container

    try:
        container.unpack(Path(path).read_bytes())
    except (OSError, FormatError):
        return False
    return True


def _read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a crash: that job is redone or skipped
            continue
    return records


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(json_ready(record), allow_nan=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


def _slots(resources: dict[str, float], cpus_per_job: float, gpus_per_job: float) -> int:
    """How many jobs the cluster runs at once; the others wait in Ray's queue."""
    slots = resources.get("CPU", 1) // cpus_per_job
    if gpus_per_job:
        slots = min(slots, resources.get("GPU", 0) // gpus_per_job)
    return max(1, int(slots))


class _Progress:
    """A rich progress bar: done / running / waiting / failed, with an ETA."""

    def __init__(self, total: int, skipped: int, enabled: bool, slots: int) -> None:
        self.total, self.done, self.failed, self.active, self.slots = total, skipped, 0, 0, slots
        self.enabled = enabled
        self.bar = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("batch"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("running {task.fields[running]}, waiting {task.fields[waiting]}, "
                                           "failed {task.fields[failed]}"),
                                TimeElapsedColumn(), TimeRemainingColumn())
            self.bar.__enter__()
            self.task = self.bar.add_task("batch", total=self.total, completed=self.done, running=0, waiting=0,
                                          failed=0)
        return self

    def running(self, count: int) -> None:
        self.active = count
        self._show()

    def finished(self, record: dict[str, Any], still_running: int) -> None:
        self.done += 1
        self.failed += record["status"] == FAILED
        self.active = still_running
        self._show()

    def _show(self) -> None:
        if self.bar is not None:
            running = min(self.active, self.slots)
            self.bar.update(self.task, completed=self.done, running=running, waiting=self.active - running,
                            failed=self.failed)

    def __exit__(self, *exc) -> bool:
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def summary_lines(records: Sequence[dict[str, Any]], seconds: float) -> list[str]:
    """The end-of-batch summary: counts by status, bytes written, throughput, and the failures."""
    counts = {status: sum(r["status"] == status for r in records) for status in (OK, SKIPPED, FAILED)}
    unsupported = [r for r in records if r["status"] == SKIPPED and "reason" in r]
    coded = [r for r in records if r["status"] == OK]
    lines = [f"{len(records) - len(unsupported)} inputs: {counts[OK]} coded, {counts[SKIPPED] - len(unsupported)} "
             f"already done, {counts[FAILED]} failed"]
    lines += [f"skipped: {r['path']}: {r['reason']}" for r in unsupported]
    if coded:
        total = sum(r["bytes"] for r in coded)
        lines.append(f"{total} bytes written; {len(coded) / seconds * 60:.1f} signals/minute over {seconds:.0f} s")
        retried = sum(r.get("attempts", 1) > 1 for r in coded)
        if retried:
            lines.append(f"{retried} job(s) succeeded after their worker died")
    # Errors about a file already start with its path.
    lines += [f"failed: {r['error'] if r['error'].startswith(r['path']) else r['path'] + ': ' + r['error']}"
              for r in records if r["status"] == FAILED]
    return lines


def check_options(retries: int, cpus_per_job: float, gpus_per_job: float, pack: int = 1) -> None:
    """Raise InputError for resource options Ray would reject later, and less clearly."""
    if retries < 0 or not cpus_per_job > 0 or gpus_per_job < 0:
        raise InputError(f"--retries must be >= 0, --cpus-per-job > 0 and --gpus-per-job >= 0 "
                         f"(got {retries}, {cpus_per_job}, {gpus_per_job})")
    if not 1 <= pack <= 4096:
        raise InputError(f"--pack must be 1..4096 signals per job, got {pack}")


def timed_run(*args, **kwargs) -> tuple[list[dict[str, Any]], float]:
    """run_batch and its wall time in seconds."""
    start = time.perf_counter()
    records = run_batch(*args, **kwargs)
    return records, time.perf_counter() - start
