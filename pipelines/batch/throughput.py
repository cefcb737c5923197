"""Batch throughput on this machine: signals per minute with 1 and with N local Ray workers,
and with packed fits (``--pack``) against one fit per signal.

    python -m pipelines.batch.throughput data/kodim23.png --count 16 --size 64 --workers 1,2
    python -m pipelines.batch.throughput data/kodim23.png --count 64 --size 32 --bpp 4 --workers 2 --pack 32 \
        --config configs/image/hashgrid-cpu.yaml

Cuts ``--count`` tiles of ``--size`` pixels from the image, codes them with ``inrcodec batch``'s
pipeline on a fresh local Ray per run (start-up included, as a user would see it), and prints
signals/minute, mean rate and PSNR, the scaling efficiency against one worker and the speed-up of
packs (only hash-grid and SIREN images are fitted in packs; latent-grid images, the default, are
coded one at a time). Compiled programs are cached on disk as by the command line; ``--warm`` fills the cache
before timing.
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
    parser.add_argument("--pack", type=int, default=1,
                        help="Also time jobs of this many signals fitted together, at the largest worker count.")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--bpp", type=float, default=1.0)
    parser.add_argument("--config", help="A preset YAML (default: the image default).")
    parser.add_argument("--warm", action="store_true",
                        help="Fill the compilation cache first, so every run sees it warm (as repeated batches do).")
    args = parser.parse_args(argv)

    from inrcodec.compile_cache import configure_environment

    configure_environment()  # as `inrcodec batch` does; workers inherit it
    from pipelines.batch.inputs import collect
    from pipelines.batch.run import timed_run

    options = {"bpp": args.bpp, "steps": args.steps, "config": args.config}
    counts = [int(w) for w in args.workers.split(",")]
    runs = [(workers, 1) for workers in counts] + ([(max(counts), args.pack)] if args.pack > 1 else [])
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        tiles = Path(tmp) / "tiles"
        tiles.mkdir()
        make_tiles(args.image, args.count, args.size, tiles)
        if args.warm:
            for pack in sorted({pack for _, pack in runs}):
                warm = Path(tmp) / f"warm{pack}"
                timed_run(collect(tiles, warm)[: max(pack, 1)], warm, options=options, num_cpus=1, pack=pack)
        for workers, pack in runs:
            out = Path(tmp) / f"out{workers}-{pack}"
            records, seconds = timed_run(collect(tiles, out), out, options=options, num_cpus=workers, pack=pack)
            ok = [r for r in records if r["status"] == "ok"]
            rates[workers, pack] = len(ok) / seconds * 60
            print(f"{workers} worker(s), {pack} signal(s) per job: {len(ok)}/{len(records)} signals in {seconds:.1f} s "
                  f"= {rates[workers, pack]:.2f} signals/minute; mean {_mean(ok, 'bpp'):.3f} bpp, "
                  f"{_mean(ok, 'psnr'):.2f} dB")
    base = min(counts)
    for workers in counts:
        if workers != base:
            gain = rates[workers, 1] / rates[base, 1]
            print(f"scaling {base} -> {workers} workers: {gain:.2f}x, efficiency {gain / (workers / base):.0%}")
    if args.pack > 1:
        print(f"packs of {args.pack} vs one signal per job ({max(counts)} workers): "
              f"{rates[max(counts), args.pack] / rates[max(counts), 1]:.2f}x")


def _mean(records: list[dict], key: str) -> float:
    return sum(r[key] for r in records) / len(records) if records else float("nan")


if __name__ == "__main__":
    main()
