"""One batch job: fit one signal, write its .inrc atomically, return a record. Runs in a worker."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"


def fit_job(source: str, output: str, options: dict[str, Any]) -> dict[str, Any]:
    """Code ``source`` into ``output``; user errors become a failed record, never an exception.

    ``options``: ``bpp`` (images, video, point clouds) and ``kbps`` (audio) rate targets, each used
    for the modalities it belongs to, and ``config``, ``steps``, ``seed``, ``overrides`` as in
    ``inrcodec.encode``. A signal longer than ``fit.max_samples`` is fitted as segments, each
    its own Ray task when this runs inside Ray, and assembled here into one file.
    """
    import inrcodec
    from inrcodec import api
    from inrcodec.modalities import REGISTRY
    from inrcodec.segments import segment_count

    start = time.perf_counter()
    record: dict[str, Any] = {"path": source, "output": output, "node": socket.gethostname(), "device": _device()}
    try:
        signal = inrcodec.load(source)
        modality = REGISTRY[signal.modality]
        target = options.get(modality.rate_unit)
        config = api.make_config(signal.modality, config=options.get("config"), target=target,
                                 steps=options.get("steps"), seed=options.get("seed"),
                                 overrides=tuple(options.get("overrides", ())))
        segments = segment_count(modality, signal, config.fit.max_samples)
        if segments > 1 and _in_ray():
            encoded = _encode_segments_in_parallel(modality, signal, config, segments)
        else:
            encoded = modality.encode(signal, config)
        report = api.measure(signal, encoded)
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        api.write_encoded(report, Path(output), force=True, source=Path(source))
    except inrcodec.InrcodecError as exc:
        return {**record, "status": FAILED, "error": str(exc), "seconds": time.perf_counter() - start}
    return {**record, "status": OK, "modality": signal.modality, "bytes": len(report.blob), **report.rate,
            **report.metrics, "segments": segments, "fit_seconds": report.fit_seconds,
            "seconds": time.perf_counter() - start}


def _in_ray() -> bool:
    import ray

    return ray.is_initialized()


def _encode_segments_in_parallel(modality, signal, config, count: int):
    """Each segment a Ray task with this task's resources; this one waits (Ray lends its CPU
    to the segments meanwhile) and assembles the file."""
    import ray

    from inrcodec import segments

    resources = ray.get_runtime_context().get_assigned_resources()
    remote = ray.remote(_encode_segment).options(num_cpus=resources.get("CPU", 1), num_gpus=resources.get("GPU", 0),
                                                 max_retries=2)
    segment_config, parts = segments.plan(modality, signal, config, count)
    return segments.assemble(modality, signal, ray.get([remote.remote(part, segment_config) for part in parts]))


def _encode_segment(part, config):
    from inrcodec.encoder import encode_signal

    return encode_signal(part, config)


def _device() -> str:
    import jax

    device = jax.devices()[0]
    return f"{device.platform}:{getattr(device, 'device_kind', '')}".rstrip(":")
