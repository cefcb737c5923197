"""Batch jobs, benchmarks and plots around inrcodec; the library never imports this package."""
