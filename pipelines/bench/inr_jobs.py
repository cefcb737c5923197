"""The codec under test as benchmark jobs: one (signal, rate target) fit per job, optionally in
parallel worker processes, with finished records cached so an interrupted run resumes."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from pipelines import SINGLE_THREAD_XLA_FLAGS
from pipelines.bench.image_bench import _record
from pipelines.bench.image_codecs import Coded


def inr_settings(config: str | None, steps: int | None, overrides: Sequence[str]) -> dict[str, Any]:
    """What identifies one configuration of the codec under test (and keys the cache)."""
    import inrcodec

    return {"config": config, "steps": steps, "overrides": list(overrides), "version": inrcodec.__version__}


def run_inr_jobs(
    items: Sequence[tuple[str, Any]],
    targets: Sequence[float],
    *,
    codec: str,
    settings: dict[str, Any],
    cache: Path,
    jobs: int = 1,
    log=print,
    fit_job: Callable[[tuple], dict[str, Any]] | None = None,
    rate_key: str = "bpp",
    dist_key: str = "psnr",
) -> list[dict[str, Any]]:
    """Records for every (item, target); reuses those already in ``cache`` (JSON lines).

    ``items`` are (file name, signal) pairs; ``fit_job((codec, settings, name, signal, target))``
    returns one record (a module-level function, so worker processes can import it). The
    default fits (name, HxWx3 uint8) images at target bpp.
    """
    fit_job = fit_job or _fit_job
    done = {(r["file"], r["param"]): r for r in _read_cache(cache) if r["codec"] == codec and r["settings"] == settings}
    todo = [(name, item, t) for name, item in items for t in targets if (name, t) not in done]
    log(f"{codec}: {len(done)} cached, {len(todo)} to fit with {jobs} worker(s)")
    args = [(codec, settings, name, item, t) for name, item, t in todo]
    if jobs > 1 and len(args) > 1:
        # An executor, not a Pool: if a worker dies (say, killed for memory) the run stops with
        # BrokenProcessPool instead of waiting forever for the lost job; a rerun resumes.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=single_threaded_worker) as pool:
            for future in as_completed([pool.submit(fit_job, arg) for arg in args]):
                record = future.result()
                _append(cache, record, log, rate_key, dist_key)
                done[(record["file"], record["param"])] = record
    else:
        for arg in args:
            record = fit_job(arg)
            _append(cache, record, log, rate_key, dist_key)
            done[(record["file"], record["param"])] = record
    return [done[(name, t)] for name, _ in items for t in targets]


def single_threaded_worker() -> None:
    os.environ["XLA_FLAGS"] = SINGLE_THREAD_XLA_FLAGS


def _fit_job(arg) -> dict[str, Any]:
    import inrcodec
    from inrcodec.signal import Signal

    codec, settings, name, rgb, target = arg
    h, w, c = rgb.shape
    signal = Signal("image", rgb, {"height": h, "width": w, "channels": c, "bits": 8})
    start = time.perf_counter()
    blob = inrcodec.encode(signal, bpp=target, config=settings["config"], steps=settings["steps"],
                           overrides=settings["overrides"])
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    decoded = inrcodec.decode(blob).data
    decode_s = time.perf_counter() - start
    return _record(codec, inrcodec.__version__, settings, name, target, rgb, Coded(blob, decoded, encode_s, decode_s))


def _read_cache(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _append(path: Path, record: dict[str, Any], log, rate_key: str, dist_key: str) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")
    log(f"  {record['file']} @ {record['param']} {rate_key}: {record[rate_key]:.3f} {rate_key}, "
        f"{record[dist_key]:.2f} dB, {record['encode_s']:.0f} s")
