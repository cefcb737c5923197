"""The codec under test as benchmark jobs: one (signal, rate target) fit per job, optionally in
parallel worker processes, with finished records cached so an interrupted run resumes.

A cached record is reused while the package version, the resolved configuration and the way
the signals were cut from the inputs are the same (``cache_key``); each record also carries
the git revision of the code that made it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from pipelines import single_thread_xla_flags
from pipelines.bench.image_codecs import Coded

# Settings that say how the configuration was asked for: the fit jobs need them, but the
# cache goes by the resolved configuration they give (its fingerprint), not by their wording.
_REQUEST = ("config", "steps", "overrides")


def inr_settings(modality: str, config: str | None, steps: int | None, overrides: Sequence[str], *,
                 target_key: str = "rate.target", **signal_options: Any) -> dict[str, Any]:
    """What identifies one configuration of the codec under test (and keys the cache).

    ``config_sha256`` fingerprints the resolved configuration without ``target_key``, the value
    each job sets to its own rate point; ``signal_options`` (an image crop, an audio excerpt
    length) say how the signals were cut from the input files. Raises ConfigError for a bad
    preset or override, before anything is fitted.
    """
    import inrcodec
    from inrcodec import api

    resolved = api.make_config(modality, config=config, steps=steps, overrides=tuple(overrides)).to_dict()
    section, key = target_key.split(".")
    del resolved[section][key]
    fingerprint = hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()
    return {"config": config, "steps": steps, "overrides": list(overrides), "version": inrcodec.__version__,
            "config_sha256": fingerprint, **signal_options}


def cache_key(settings: dict[str, Any]) -> dict[str, Any]:
    """The part of a record's settings that must match for the record to be reused."""
    return {name: value for name, value in settings.items() if name not in _REQUEST}


def git_revision(cwd: str | Path | None = None) -> str | None:
    """Short hash of the checkout's HEAD, with "-dirty" when tracked files have uncommitted
    changes; None outside a git checkout or without git. ``cwd``: the package's folder."""
    if cwd is None:
        import inrcodec

        cwd = Path(inrcodec.__file__).parent
    try:
        head = _git(cwd, "rev-parse", "--short", "HEAD")
        changes = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if changes else "")


def _git(cwd: str | Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=30)
    return result.stdout.strip()


def run_inr_jobs(
    items: Sequence[tuple[str, Any]],
    targets: Sequence[float],
    *,
    codec: str,
    settings: dict[str, Any],
    cache: Path,
    fit_job: Callable[[tuple], dict[str, Any]],
    jobs: int = 1,
    log=print,
    rate_key: str = "bpp",
    dist_key: str = "psnr",
) -> list[dict[str, Any]]:
    """Records for every (item, target); reuses those already in ``cache`` (JSON lines) whose
    codec and ``cache_key`` match.

    ``items`` are (file name, signal) pairs; ``fit_job((codec, settings, name, signal, target))``
    returns one record (a module-level function, so worker processes can import it), to which
    the git revision is added here.
    """
    key = cache_key(settings)
    done = {(r["file"], r["param"]): r for r in _read_cache(cache)
            if r["codec"] == codec and cache_key(r["settings"]) == key}
    todo = [(name, item, t) for name, item in items for t in targets if (name, t) not in done]
    log(f"{codec}: {len(done)} cached, {len(todo)} to fit with {jobs} worker(s)")
    args = [(codec, settings, name, item, t) for name, item, t in todo]
    revision = git_revision() if args else None

    def finish(record: dict[str, Any]) -> None:
        record["git"] = revision
        _append(cache, record, log, rate_key, dist_key)
        done[(record["file"], record["param"])] = record

    if jobs > 1 and len(args) > 1:
        # An executor, not a Pool: if a worker dies (say, killed for memory) the run stops with
        # BrokenProcessPool instead of waiting forever for the lost job; a rerun resumes.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=single_threaded_worker) as pool:
            for future in as_completed([pool.submit(fit_job, arg) for arg in args]):
                finish(future.result())
    else:
        for arg in args:
            finish(fit_job(arg))
    return [done[(name, t)] for name, _ in items for t in targets]


def encode_decode(signal, settings: dict[str, Any], *, warm_decode: bool = False, **target: float) -> Coded:
    """One timed round trip of ``signal`` through the codec under test as ``settings`` say, at
    ``target`` (bpp=... or kbps=...). ``warm_decode``: decode once before the timed decode, so
    that ``decode_s`` is the steady time of the compiled decoder."""
    import inrcodec

    start = time.perf_counter()
    blob = inrcodec.encode(signal, config=settings["config"], steps=settings["steps"], overrides=settings["overrides"],
                           **target)
    encode_s = time.perf_counter() - start
    if warm_decode:
        inrcodec.decode(blob)
    start = time.perf_counter()
    decoded = inrcodec.decode(blob).data
    return Coded(blob, decoded, encode_s, time.perf_counter() - start)


def single_threaded_worker() -> None:
    os.environ["XLA_FLAGS"] = single_thread_xla_flags()


def _read_cache(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _append(path: Path, record: dict[str, Any], log, rate_key: str, dist_key: str) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")
    log(f"  {record['file']} @ {record['param']} {rate_key}: {record[rate_key]:.3f} {rate_key}, "
        f"{dist_key} {record[dist_key]:.2f}, {record['encode_s']:.0f} s")
