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

    ``options``: ``bpp`` (images) and ``kbps`` (audio) rate targets, each used for the modality it
    belongs to, and ``config``, ``steps``, ``seed``, ``overrides`` as in ``inrcodec.encode``.
    """
    import inrcodec
    from inrcodec import api
    from inrcodec.modalities import REGISTRY

    start = time.perf_counter()
    record: dict[str, Any] = {"path": source, "output": output, "node": socket.gethostname(), "device": _device()}
    try:
        signal = inrcodec.load(source)
        unit = REGISTRY[signal.modality].rate_unit
        target = {unit: options[unit]} if options.get(unit) is not None else {}
        report = api.encode_report(signal, config=options.get("config"), steps=options.get("steps"),
                                   seed=options.get("seed"), overrides=tuple(options.get("overrides", ())), **target)
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        api.write_encoded(report, Path(output), force=True, source=Path(source))
    except inrcodec.InrcodecError as exc:
        return {**record, "status": FAILED, "error": str(exc), "seconds": time.perf_counter() - start}
    return {**record, "status": OK, "modality": signal.modality, "bytes": len(report.blob), **report.rate,
            **report.metrics, "fit_seconds": report.fit_seconds, "seconds": time.perf_counter() - start}


def _device() -> str:
    import jax

    device = jax.devices()[0]
    return f"{device.platform}:{getattr(device, 'device_kind', '')}".rstrip(":")
