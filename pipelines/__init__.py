"""Batch jobs, benchmarks and plots around inrcodec; the library never imports this package."""

import os

# One XLA CPU thread per worker process: N workers then use N cores without oversubscription.
SINGLE_THREAD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def single_thread_xla_flags() -> str:
    """XLA_FLAGS for a worker: the caller's own flags, then the one-thread limit."""
    return " ".join(filter(None, [os.environ.get("XLA_FLAGS"), SINGLE_THREAD_XLA_FLAGS]))
