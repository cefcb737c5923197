"""Image benchmark: the codec under test and the baselines on the same crops -> results JSON,
RD plot and a table with BD-rates. Called by ``inrcodec bench image``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pipelines.bench.image_bench import load_image_crops, run_baselines
from pipelines.bench.image_codecs import IMAGE_CODECS
from pipelines.bench.inr_jobs import inr_settings, run_inr_jobs
from pipelines.bench.report import plot_rd, summarize, summary_table, write_results_json

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".ppm")
DEFAULT_TARGETS = (0.25, 0.5, 1.0, 2.0)


def expand_inputs(inputs: Sequence[Path]) -> list[Path]:
    """Files as given, folders as their image files (sorted)."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            paths += sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            paths.append(item)
    return paths


def run(
    inputs: Sequence[Path],
    out: Path,
    *,
    crop: int | None = 256,
    codecs: Sequence[str] = tuple(IMAGE_CODECS),
    targets: Sequence[float] = DEFAULT_TARGETS,
    steps: int | None = None,
    config: str | None = None,
    overrides: Sequence[str] = (),
    label: str = "inrcodec",
    jobs: int = 1,
    argv: Sequence[str] | None = None,
    log=print,
) -> dict:
    """Run the benchmark; write ``records.jsonl`` (resume cache), ``results.json``, ``rd.png``."""
    unknown = sorted(set(codecs) - set(IMAGE_CODECS))
    if unknown:
        raise ValueError(f"unknown codecs {unknown}; known: {sorted(IMAGE_CODECS)}")
    images = load_image_crops(expand_inputs(inputs), crop)
    if not images:
        raise ValueError("no images found in the inputs")
    out.mkdir(parents=True, exist_ok=True)
    records = []
    if targets:
        settings = inr_settings(config, steps, overrides)
        records += run_inr_jobs(images, targets, codec=label, settings=settings, cache=out / "records.jsonl",
                                jobs=jobs, log=log)
    records += run_baselines(images, [IMAGE_CODECS[name]() for name in codecs])
    summary = summarize(records, label if targets else None)
    write_results_json(out / "results.json", records, summary, argv=argv)
    plot_rd(summary, out / "rd.png", log_x=True, title=f"{len(images)} images" + (f", {crop}x{crop} crops" if crop else ""))
    table = summary_table(summary)
    (out / "summary.md").write_text(table + "\n")
    log(table)
    return summary


def load_summary(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())["summary"]
