"""Tests of the benchmark harness in pipelines/bench."""
