"""Batch jobs: fit signals, write each .inrc atomically, return one record per signal. Run in workers."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"


def fit_job(source: str, output: str, options: dict[str, Any]) -> dict[str, Any]:
    """Code ``source`` into ``output``; user errors become a failed record, never an exception."""
    return pack_job([source], [output], options)[0]


def pack_job(sources: list[str], outputs: list[str], options: dict[str, Any]) -> list[dict[str, Any]]:
    """Code each source into its output, one record per source, in order.

    Signals that can share a fit (same modality, sample layout and config: ``api.can_pack``)
    are fitted together as one pack in one jitted program; the others one at a time. User errors
    become failed records, never exceptions, and one bad input does not fail the others.

    ``options``: ``bpp`` (images, video, point clouds) and ``kbps`` (audio) rate targets, each used
    for the modalities it belongs to, and ``config``, ``steps``, ``seed``, ``overrides`` as in
    ``inrcodec.encode``. A signal longer than ``fit.max_samples`` is fitted as segments, each
    its own Ray task when this runs inside Ray, and assembled here into one file.
    """
    import inrcodec
    from inrcodec.api import can_pack, encode_pack

    start = time.perf_counter()
    node, device = socket.gethostname(), _device()
    records = [{"path": s, "output": o, "node": node, "device": device} for s, o in zip(sources, outputs)]
    packs: dict[Any, list[tuple[int, Any]]] = {}
    alone = []
    for i, source in enumerate(sources):
        try:
            signal = inrcodec.load(source)
            config = _config(signal, options)
        except inrcodec.InrcodecError as exc:
            records[i] = _failed(records[i], exc, start)
            continue
        if can_pack(signal, config):
            packs.setdefault(config, []).append((i, signal))
        else:
            alone.append((i, signal, config))
    for config, members in packs.items():
        try:
            encoded = encode_pack([signal for _, signal in members], config)
        except inrcodec.InrcodecError:  # fit each alone, so that each gets its own error or file
            alone += [(i, signal, config) for i, signal in members]
            continue
        for (i, signal), result in zip(members, encoded):
            records[i] = _write(records[i], signal, result, 1, start, pack=len(members))
    for i, signal, config in sorted(alone, key=lambda entry: entry[0]):
        try:
            encoded, segments = _encode_alone(signal, config)
        except inrcodec.InrcodecError as exc:
            records[i] = _failed(records[i], exc, start)
            continue
        records[i] = _write(records[i], signal, encoded, segments, start, pack=1)
    return records


def _config(signal, options: dict[str, Any]):
    from inrcodec import api
    from inrcodec.modalities import REGISTRY

    return api.make_config(signal.modality, config=options.get("config"),
                           target=options.get(REGISTRY[signal.modality].rate_unit), steps=options.get("steps"),
                           seed=options.get("seed"), overrides=tuple(options.get("overrides", ())))


def _encode_alone(signal, config):
    """One signal's file, and how many segments it took."""
    from inrcodec.modalities import REGISTRY
    from inrcodec.segments import segment_count

    modality = REGISTRY[signal.modality]
    segments = segment_count(modality, signal, config.fit.max_samples)
    if segments > 1 and _in_ray():
        return _encode_segments_in_parallel(modality, signal, config, segments), segments
    from inrcodec import api

    return api.encode_signal(signal, config), segments


def _write(record, signal, encoded, segments: int, start: float, pack: int) -> dict[str, Any]:
    """Measure the file by decoding it, write it atomically, and complete its record."""
    import inrcodec
    from inrcodec import api

    try:
        report = api.measure(signal, encoded)
        output = Path(record["output"])
        output.parent.mkdir(parents=True, exist_ok=True)
        api.write_encoded(report, output, force=True, source=Path(record["path"]))
    except inrcodec.InrcodecError as exc:
        return _failed(record, exc, start)
    return {**record, "status": OK, "modality": signal.modality, "bytes": len(report.blob), **report.rate,
            **report.metrics, "segments": segments, "pack": pack, "fit_seconds": report.fit_seconds,
            "seconds": time.perf_counter() - start}


def _failed(record, exc: Exception, start: float) -> dict[str, Any]:
    return {**record, "status": FAILED, "error": str(exc), "seconds": time.perf_counter() - start}


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
    from inrcodec import api

    return api.encode_signal(part, config)


def _device() -> str:
    import jax

    device = jax.devices()[0]
    kind = getattr(device, "device_kind", "")
    return device.platform if kind in ("", device.platform) else f"{device.platform}:{kind}"
