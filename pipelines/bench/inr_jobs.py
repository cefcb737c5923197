"""The codec under test as benchmark jobs: one (image, target bpp) fit per job, optionally in
parallel worker processes, with finished records cached so an interrupted run resumes."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipelines.bench.image_bench import Image, _record
from pipelines.bench.image_codecs import Coded


def inr_settings(config: str | None, steps: int | None, overrides: Sequence[str]) -> dict[str, Any]:
    """What identifies one configuration of the codec under test (and keys the cache)."""
    import inrcodec

    return {"config": config, "steps": steps, "overrides": list(overrides), "version": inrcodec.__version__}


def run_inr_jobs(
    images: Sequence[Image],
    targets: Sequence[float],
    *,
    codec: str,
    settings: dict[str, Any],
    cache: Path,
    jobs: int = 1,
    log=print,
) -> list[dict[str, Any]]:
    """Records for every (image, target); reuses those already in ``cache`` (JSON lines)."""
    done = {(r["file"], r["param"]): r for r in _read_cache(cache) if r["codec"] == codec and r["settings"] == settings}
    todo = [(name, rgb, t) for name, rgb in images for t in targets if (name, t) not in done]
    log(f"{codec}: {len(done)} cached, {len(todo)} to fit with {jobs} worker(s)")
    args = [(codec, settings, name, rgb, t) for name, rgb, t in todo]
    if jobs > 1 and len(args) > 1:
        context = multiprocessing.get_context("spawn")
        with context.Pool(jobs, initializer=_single_threaded_worker) as pool:
            results = pool.imap_unordered(_fit_job, args)
            for record in results:
                _append(cache, record, log)
                done[(record["file"], record["param"])] = record
    else:
        for arg in args:
            record = _fit_job(arg)
            _append(cache, record, log)
            done[(record["file"], record["param"])] = record
    return [done[(name, t)] for name, _ in images for t in targets]


def _single_threaded_worker() -> None:
    # One XLA CPU thread per worker: N workers then use N cores without oversubscription.
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


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


def _append(path: Path, record: dict[str, Any], log) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")
    log(f"  {record['file']} @ {record['param']} bpp: {record['bpp']:.3f} bpp, {record['psnr']:.2f} dB, "
        f"{record['encode_s']:.0f} s")
