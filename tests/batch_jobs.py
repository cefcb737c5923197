"""A batch job for the fault-tolerance test: its worker process dies once, like an OOM kill."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from pipelines.batch.job import pack_job


def pack_job_killed_once(sources: list[str], outputs: list[str], options: dict) -> list[dict]:
    """SIGKILL this worker on the first call that finds the marker file (removing it), else fit."""
    marker = Path(options["kill_marker"])
    try:
        marker.unlink()
    except FileNotFoundError:
        return pack_job(sources, outputs, options)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable: the process was killed")
