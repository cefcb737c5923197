"""Batch jobs, benchmarks and plots around inrcodec; the library never imports this package."""

# One XLA CPU thread per worker process: N workers then use N cores without oversubscription.
SINGLE_THREAD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
