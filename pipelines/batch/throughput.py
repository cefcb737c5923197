"""Batch throughput on this machine: signals per minute with 1 and with N local Ray workers.

    python -m pipelines.batch.throughput data/kodim23.png --count 16 --size 64 --workers 1,2

Cuts ``--count`` tiles of ``--size`` pixels from the image, codes them with ``inrcodec batch``'s
pipeline on a fresh local Ray per worker count (start-up included, as a user would see it), and
prints signals/minute and the scaling efficiency against one worker. Compiled programs are cached
on disk as by the command line; ``--warm`` fills the cache before timing.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def make_tiles(image: Path, count: int, size: int, folder: Path) -> None:
    import imageio.v3 as iio

    data = iio.imread(image)
    per_row = data.shape[1] // size
    if count > per_row * (data.shape[0] // size):
        raise SystemExit(f"{image}: too small for {count} tiles of {size} pixels")
    for i in range(count):
        y, x = divmod(i, per_row)
        iio.imwrite(folder / f"tile{i:03d}.png", data[y * size : (y + 1) * size, x * size : (x + 1) * size])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--workers", default="1,2", help="Comma-separated worker counts.")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--bpp", type=float, default=1.0)
    parser.add_argument("--warm", action="store_true",
                        help="Fill the compilation cache first, so every worker count sees it warm (as repeated batches do).")
    args = parser.parse_args(argv)

    from inrcodec.compile_cache import configure_environment

    configure_environment()  # as `inrcodec batch` does; workers inherit it
    from pipelines.batch.inputs import collect
    from pipelines.batch.run import timed_run

    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        tiles = Path(tmp) / "tiles"
        tiles.mkdir()
        make_tiles(args.image, args.count, args.size, tiles)
        if args.warm:
            timed_run(collect(tiles, Path(tmp) / "warm"), Path(tmp) / "warm",
                      options={"bpp": args.bpp, "steps": args.steps}, num_cpus=1)
        for workers in (int(w) for w in args.workers.split(",")):
            out = Path(tmp) / f"out{workers}"
            records, seconds = timed_run(collect(tiles, out), out, options={"bpp": args.bpp, "steps": args.steps},
                                         num_cpus=workers)
            ok = sum(r["status"] == "ok" for r in records)
            rates[workers] = ok / seconds * 60
            print(f"{workers} worker(s): {ok}/{len(records)} signals in {seconds:.1f} s = {rates[workers]:.2f} signals/minute")
    base = min(rates)
    for workers, rate in sorted(rates.items()):
        if workers != base:
            print(f"scaling {base} -> {workers} workers: {rate / rates[base]:.2f}x, "
                  f"efficiency {rate / rates[base] / (workers / base):.0%}")


if __name__ == "__main__":
    main()
