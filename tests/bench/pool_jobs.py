"""Trivial benchmark jobs for testing the parallel job runner itself (no fitting)."""

from __future__ import annotations

import os


def echo_job(arg) -> dict:
    codec, settings, name, item, target = arg
    return {"codec": codec, "settings": settings, "file": name, "param": target, "bpp": target, "psnr": float(item),
            "encode_s": 0.0}


def dying_job(arg) -> dict:
    os._exit(1)  # the worker process vanishes, as when the kernel kills it for memory
