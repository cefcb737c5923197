"""Point-cloud benchmark: the codec under test and Draco on the same clouds -> results JSON, RD
plot and a table with BD-rates on D1 (and D2) PSNR. Called by ``inrcodec bench pointcloud``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from inrcodec.modalities.pointcloud import POINTCLOUD
from pipelines.bench.inr_jobs import inr_settings, run_inr_jobs
from pipelines.bench.pointcloud_bench import DRACO_BITS, fit_job, load_clouds, run_baselines
from pipelines.bench.report import files_with_suffixes, plot_rd, summarize, summary_table, write_results_json

DEFAULT_DEPTHS = (6, 7, 8, 9, 10)
CODECS = ("draco",)


def expand_inputs(inputs: Sequence[Path], log=print) -> list[Path]:
    """PLY files among the inputs, folders as their PLY files (sorted)."""
    return files_with_suffixes(inputs, POINTCLOUD.extensions, "a PLY file", log)


def run(
    inputs: Sequence[Path],
    out: Path,
    *,
    codecs: Sequence[str] = CODECS,
    targets: Sequence[float] = DEFAULT_DEPTHS,
    draco_bits: Sequence[int] = DRACO_BITS,
    steps: int | None = None,
    config: str | None = None,
    overrides: Sequence[str] = (),
    label: str = "inrcodec",
    jobs: int = 1,
    argv: Sequence[str] | None = None,
    log=print,
) -> dict:
    """Run the benchmark (``targets`` are octree depths); write ``records.jsonl`` (resume
    cache), ``results.json``, ``rd.png`` (D1) and ``rd-d2.png``, ``summary.md``."""
    unknown = sorted(set(codecs) - set(CODECS))
    if unknown:
        raise ValueError(f"unknown codecs {unknown}; known: {list(CODECS)}")
    if any(t != int(t) or not 1 <= t <= 16 for t in targets):
        raise ValueError(f"point-cloud rate points are octree depths 1..16, got {list(targets)}")
    clouds = load_clouds(expand_inputs(inputs, log))
    if not clouds:
        raise ValueError("no PLY files found in the inputs")
    out.mkdir(parents=True, exist_ok=True)
    records = []
    if targets:
        records += run_inr_jobs(clouds, [int(t) for t in targets], codec=label,
                                settings=inr_settings(config, steps, overrides), cache=out / "records.jsonl",
                                jobs=jobs, log=log, fit_job=fit_job, rate_key="bpp", dist_key="d1_psnr")
    if "draco" in codecs:
        records += run_baselines(clouds, draco_bits)
    subject = label if targets else None
    summary = summarize(records, subject, rate_key="bpp", dist_key="d1_psnr")
    summary_d2 = summarize(records, subject, rate_key="bpp", dist_key="d2_psnr")
    write_results_json(out / "results.json", records, {"d1": summary, "d2": summary_d2}, argv=argv)
    title = f"{len(clouds)} cloud{'s' if len(clouds) != 1 else ''}"
    plot_rd(summary, out / "rd.png", title=title)
    plot_rd(summary_d2, out / "rd-d2.png", title=title)
    table = summary_table(summary) + "\n\n" + summary_table(summary_d2)
    (out / "summary.md").write_text(table + "\n")
    log(table)
    return summary
