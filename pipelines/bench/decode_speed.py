"""Decode speed on this machine: encode one image, then time ``inrcodec.decode`` of the file.

    python -m pipelines.bench.decode_speed data/kodim23.png --bpp 0.5 --steps 300 --repeats 5

Decoding parses the file, rebuilds the network and renders every pixel; the first call also
compiles the renderer, so the report gives the first and the median of the later calls.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--bpp", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import inrcodec

    start = time.perf_counter()
    blob = inrcodec.encode(args.image, bpp=args.bpp, steps=args.steps)
    encode_s = time.perf_counter() - start
    timings = []
    for _ in range(args.repeats + 1):
        start = time.perf_counter()
        signal = inrcodec.decode(blob)
        timings.append(time.perf_counter() - start)
    header = inrcodec.info(blob)
    h, w = signal.data.shape[:2]
    print(f"{args.image.name}: {w}x{h}, {len(blob)} bytes ({8 * len(blob) / (w * h):.3f} bpp), "
          f"encode {encode_s:.1f} s ({args.steps} steps), {header['macs_per_sample']} MAC/pixel")
    print(f"decode: first {timings[0]:.3f} s (includes compilation), "
          f"median of {args.repeats} more {statistics.median(timings[1:]):.3f} s")


if __name__ == "__main__":
    main()
