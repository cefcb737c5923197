"""Command line: baseline codecs on a set of images -> results JSON, RD plot and table.

    python -m pipelines.bench.run_image data/kodak/*.png --crop 256 --out bench-out \
        --codecs jpeg,webp,avif,jpeg2000 --subject avif
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pipelines.bench.image_bench import load_image_crops, run_baselines
from pipelines.bench.image_codecs import IMAGE_CODECS
from pipelines.bench.report import plot_rd, summarize, summary_table, write_results_json


def main(argv: Sequence[str] | None = None) -> None:
    """Parse ``argv`` (default: the process's arguments), run, write, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path, help="image files")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--crop", type=int, default=None, help="centre crop side in pixels")
    parser.add_argument("--codecs", default=",".join(IMAGE_CODECS), help="comma-separated")
    parser.add_argument("--subject", default=None, help="codec whose BD-rates to report")
    parser.add_argument("--log-x", action="store_true", help="logarithmic rate axis")
    args = parser.parse_args(argv)
    names = args.codecs.split(",")
    unknown = sorted(set(names) - set(IMAGE_CODECS))
    if unknown:
        parser.error(f"unknown codecs {unknown}; known: {sorted(IMAGE_CODECS)}")
    if args.subject is not None and args.subject not in names:
        parser.error(f"--subject {args.subject} is not among --codecs")

    images = load_image_crops(args.images, args.crop)
    records = run_baselines(images, [IMAGE_CODECS[name]() for name in names])
    summary = summarize(records, args.subject)
    args.out.mkdir(parents=True, exist_ok=True)
    command = sys.argv if argv is None else argv
    write_results_json(args.out / "results.json", records, summary, argv=command)
    plot_rd(summary, args.out / "rd.png", log_x=args.log_x)
    print(summary_table(summary))


if __name__ == "__main__":
    main()
