"""Video benchmark: the codec under test and x264 / x265 / AV1 on the same frames -> results
JSON, RD plot and a table with BD-rates. Called by ``inrcodec bench video``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from inrcodec.modalities.video import VIDEO
from pipelines.bench.inr_jobs import inr_settings, run_inr_jobs
from pipelines.bench.report import files_with_suffixes, plot_rd, summarize, summary_table, write_results_json
from pipelines.bench.video_bench import fit_job, load_clips, run_baselines
from pipelines.bench.video_codecs import VIDEO_CODECS

DEFAULT_TARGETS = (0.03, 0.06, 0.12, 0.24)


def expand_inputs(inputs: Sequence[Path], log=print) -> list[Path]:
    """Video files among the inputs, folders as their video files (sorted)."""
    return files_with_suffixes(inputs, VIDEO.extensions, "a video file", log)


def run(
    inputs: Sequence[Path],
    out: Path,
    *,
    codecs: Sequence[str] = tuple(VIDEO_CODECS),
    targets: Sequence[float] = DEFAULT_TARGETS,
    steps: int | None = None,
    config: str | None = None,
    overrides: Sequence[str] = (),
    label: str = "inrcodec",
    jobs: int = 1,
    argv: Sequence[str] | None = None,
    log=print,
) -> dict:
    """Run the benchmark; write ``records.jsonl`` (resume cache), ``results.json``, ``rd.png``,
    ``summary.md``."""
    unknown = sorted(set(codecs) - set(VIDEO_CODECS))
    if unknown:
        raise ValueError(f"unknown codecs {unknown}; known: {sorted(VIDEO_CODECS)}")
    clips = load_clips(expand_inputs(inputs, log))
    if not clips:
        raise ValueError("no video files found in the inputs")
    out.mkdir(parents=True, exist_ok=True)
    records = []
    if targets:
        records += run_inr_jobs(clips, targets, codec=label, settings=inr_settings(config, steps, overrides),
                                cache=out / "records.jsonl", jobs=jobs, log=log, fit_job=fit_job, rate_key="bpp")
    records += run_baselines(clips, [VIDEO_CODECS[name]() for name in codecs])
    summary = summarize(records, label if targets else None, rate_key="bpp", dist_key="psnr")
    write_results_json(out / "results.json", records, summary, argv=argv)
    plot_rd(summary, out / "rd.png", log_x=True, title=f"{len(clips)} clip{'s' if len(clips) != 1 else ''}")
    table = summary_table(summary) + "\n\n" + speed_line(records, label)
    (out / "summary.md").write_text(table + "\n")
    log(table)
    return summary


def speed_line(records: Sequence[dict], label: str) -> str:
    """Mean encode seconds per clip and decode frames per second of the codec under test."""
    own = [r for r in records if r["codec"] == label]
    if not own:
        return ""
    encode = sum(r["encode_s"] for r in own) / len(own)
    fps = sum(r["decode_fps"] for r in own) / len(own)
    return f"{label}: mean encode {encode:.0f} s per clip and rate, decode {fps:.1f} frames/s (library, compiled)"
