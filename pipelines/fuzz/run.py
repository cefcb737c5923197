"""Long fuzz run of the decoder: hostile variants of valid files, each under a time limit.

    python -m pipelines.fuzz.run tests/golden/*.inrc --cases 10000 --timeout 10 --jobs 2

For every input file (one per modality and architecture) it decodes ``--cases`` mutated variants
in worker processes, each limited to ``--memory-gib`` of address space (so a decoder that
over-allocates fails with MemoryError instead of swapping), and prints the counts of {decoded, clean error, other exception, timeout}
per modality, the peak resident memory of the workers, and the first failures of each kind. A
case that runs past ``--timeout`` seconds has its worker killed and counts as a timeout. Exits
non-zero if any case raised something other than an ``InrcodecError`` or timed out.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import multiprocessing
import resource
import sys
import time
from pathlib import Path

from pipelines.bench.inr_jobs import single_threaded_worker
from pipelines.fuzz.mutate import MUTATIONS, mutate
from pipelines.fuzz.outcome import CLEAN_ERROR, DECODED, OTHER_EXCEPTION, OUTCOMES, TIMEOUT, decode_outcome

MAX_EXAMPLES_SHOWN = 5
MEMORY_LIMIT_GIB = 4.0


def _init_worker(memory_bytes: int) -> None:
    """One XLA thread, and an address-space limit: an allocation beyond it raises MemoryError
    (an "other exception", so a failure) where it would otherwise take the machine's memory."""
    single_threaded_worker()
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def _worker_case(blob: bytes, kind: str, seed: int) -> tuple[str, str, int]:
    outcome, detail = decode_outcome(mutate(blob, kind, seed))
    return outcome, detail, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Worker:
    """One decoding process; replaced by a fresh one when a case overruns its time limit."""

    def __init__(self, memory_bytes: int) -> None:
        self.memory_bytes = memory_bytes
        self._pool = self._start()
        self.peak_kib = 0

    def _start(self):
        return multiprocessing.get_context("spawn").Pool(1, initializer=_init_worker, initargs=(self.memory_bytes,))

    def run(self, blob: bytes, kind: str, seed: int, timeout: float) -> tuple[str, str]:
        pending = self._pool.apply_async(_worker_case, (blob, kind, seed))
        try:
            outcome, detail, peak = pending.get(timeout)
        except multiprocessing.TimeoutError:
            self._pool.terminate()
            self._pool = self._start()
            return TIMEOUT, f"over {timeout:g} s"
        self.peak_kib = max(self.peak_kib, peak)
        return outcome, detail

    def close(self) -> None:
        self._pool.terminate()


def fuzz_file(path: Path, cases: int, timeout: float, jobs: int, first_seed: int = 0,
              memory_gib: float = MEMORY_LIMIT_GIB) -> dict:
    """Counts, peak memory and example failures for ``cases`` variants of one file."""
    blob = path.read_bytes()
    kinds = sorted(MUTATIONS)
    plan = [(kinds[i % len(kinds)], first_seed + i) for i in range(cases)]
    counts = collections.Counter()
    by_kind = collections.defaultdict(collections.Counter)
    examples = collections.defaultdict(list)
    workers = [Worker(int(memory_gib * 2**30)) for _ in range(jobs)]
    start = time.perf_counter()

    def run_slice(worker: Worker, part: list[tuple[str, int]]) -> list[tuple[str, int, str, str]]:
        return [(kind, seed, *worker.run(blob, kind, seed, timeout)) for kind, seed in part]

    with concurrent.futures.ThreadPoolExecutor(jobs) as threads:
        results = threads.map(run_slice, workers, [plan[j::jobs] for j in range(jobs)])
        for part in results:
            for kind, seed, outcome, detail in part:
                counts[outcome] += 1
                by_kind[kind][outcome] += 1
                if outcome in (OTHER_EXCEPTION, TIMEOUT) and len(examples[outcome]) < MAX_EXAMPLES_SHOWN:
                    examples[outcome].append(f"{kind} seed {seed}: {detail}")
    for worker in workers:
        worker.close()
    return {"file": path.name, "cases": cases, "seconds": time.perf_counter() - start,
            "counts": {o: counts[o] for o in OUTCOMES}, "by_kind": {k: dict(v) for k, v in by_kind.items()},
            "peak_mib": max(w.peak_kib for w in workers) / 1024, "examples": dict(examples)}


def _modality(path: Path) -> str:
    import inrcodec

    return inrcodec.info(path)["modality"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="Valid .inrc files to mutate.")
    parser.add_argument("--cases", type=int, default=10_000, help="Variants per file.")
    parser.add_argument("--timeout", type=float, default=10.0, help="Seconds allowed per case.")
    parser.add_argument("--jobs", type=int, default=2, help="Decoding worker processes.")
    parser.add_argument("--seed", type=int, default=0, help="First mutation seed.")
    parser.add_argument("--memory-gib", type=float, default=MEMORY_LIMIT_GIB,
                        help="Address-space limit of each worker (GiB).")
    args = parser.parse_args(argv)

    failures = 0
    for path in args.files:
        report = fuzz_file(path, args.cases, args.timeout, args.jobs, args.seed, args.memory_gib)
        counts = report["counts"]
        failures += counts[OTHER_EXCEPTION] + counts[TIMEOUT]
        print(f"{report['file']} ({_modality(path)}): {report['cases']} cases in {report['seconds']:.0f} s; "
              + ", ".join(f"{o} {counts[o]}" for o in OUTCOMES) + f"; peak worker memory {report['peak_mib']:.0f} MiB")
        for kind, kind_counts in sorted(report["by_kind"].items()):
            print(f"  {kind:18s} " + ", ".join(f"{o} {kind_counts.get(o, 0)}" for o in (DECODED, CLEAN_ERROR)))
        for outcome, lines in report["examples"].items():
            for line in lines:
                print(f"  {outcome}: {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
