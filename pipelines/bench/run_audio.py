"""Audio benchmark: the codec under test and the baselines on the same clips -> results JSON,
RD plot and a table with BD-rates. Called by ``inrcodec bench audio``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from inrcodec.modalities.audio import AUDIO
from pipelines.bench.audio_bench import fit_job, load_clips, run_baselines
from pipelines.bench.audio_codecs import AUDIO_CODECS
from pipelines.bench.inr_jobs import inr_settings, run_inr_jobs
from pipelines.bench.report import files_with_suffixes, plot_rd, summarize, summary_table, write_results_json

DEFAULT_TARGETS = (8.0, 16.0, 32.0, 64.0)
# The rate at which the quality bar compares the codec with MP3.
BAR_KBPS = 32.0


def expand_inputs(inputs: Sequence[Path], log=print) -> list[Path]:
    """Audio files among the inputs, folders as their audio files (sorted)."""
    return files_with_suffixes(inputs, AUDIO.extensions, "an audio file", log)


def run(
    inputs: Sequence[Path],
    out: Path,
    *,
    seconds: float | None = None,
    codecs: Sequence[str] = tuple(AUDIO_CODECS),
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
    unknown = sorted(set(codecs) - set(AUDIO_CODECS))
    if unknown:
        raise ValueError(f"unknown codecs {unknown}; known: {sorted(AUDIO_CODECS)}")
    clips = load_clips(expand_inputs(inputs, log), seconds)
    if not clips:
        raise ValueError("no audio files found in the inputs")
    out.mkdir(parents=True, exist_ok=True)
    records = []
    if targets:
        # The excerpt length keys the cache too: a whole clip and its excerpt share a file name.
        settings = {**inr_settings(config, steps, overrides), "seconds": seconds}
        records += run_inr_jobs(clips, targets, codec=label, settings=settings, cache=out / "records.jsonl",
                                jobs=jobs, log=log, fit_job=fit_job, rate_key="kbps")
    records += run_baselines(clips, [AUDIO_CODECS[name]() for name in codecs])
    summary = summarize(records, label if targets else None, rate_key="kbps", dist_key="psnr")
    summary["psnr_at_bar"] = {"kbps": BAR_KBPS, **{codec: dist_at_rate(curve, BAR_KBPS)
                                                  for codec, curve in summary["curves"].items()}}
    write_results_json(out / "results.json", records, summary, argv=argv)
    title = f"{len(clips)} clip{'s' if len(clips) != 1 else ''}" + (f", {seconds:g} s excerpts" if seconds else "")
    plot_rd(summary, out / "rd.png", log_x=True, title=title)
    table = summary_table(summary) + "\n\n" + bar_line(summary["psnr_at_bar"])
    (out / "summary.md").write_text(table + "\n")
    log(table)
    return summary


def dist_at_rate(curve: dict, rate: float, rate_key: str = "kbps", dist_key: str = "psnr") -> float | None:
    """A mean curve's distortion at ``rate``, linear in log-rate between its points; None
    outside the curve (no extrapolation)."""
    rates, dists = np.asarray(curve[rate_key], float), np.asarray(curve[dist_key], float)
    if not rates.size or not rates[0] <= rate <= rates[-1] or not np.all(np.isfinite(dists)):
        return None
    return float(np.interp(math.log(rate), np.log(rates), dists))


def bar_line(at_bar: dict) -> str:
    """One line of Markdown: each codec's mean PSNR at the bar's rate."""
    values = ", ".join(f"{codec} {'n/a' if v is None else f'{v:.2f} dB'}" for codec, v in at_bar.items() if codec != "kbps")
    return f"Mean PSNR at {at_bar['kbps']:g} kbit/s (interpolated in log-rate): {values}"
