"""One benchmark run for any modality: the codec under test and the baselines on the same
signals -> results JSON, RD plot(s) and a table with BD-rates. A ``BenchSpec`` (see ``specs``)
says what differs between modalities. Called by ``inrcodec bench <modality>``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.bench.inr_jobs import inr_settings, run_inr_jobs
from pipelines.bench.report import files_with_suffixes, plot_rd, summarize, summary_table, write_results_json

Record = dict[str, Any]


@dataclass(frozen=True)
class BenchSpec:
    """How one modality is benchmarked."""

    name: str  # the modality, as ``inrcodec.api.make_config`` knows it
    files: str  # what the inputs hold, plural: "no {files} found in the inputs"
    noun: str  # one signal, in the plot title: "3 {noun}s"
    suffixes: tuple[str, ...]  # of the files taken from a folder
    # Files named on their own with another suffix are skipped, with a note that they are not
    # this; None keeps them (the loader judges them).
    not_a: str | None
    # load(paths, **options) -> [(file name, signal)]
    load: Callable[..., list[tuple[str, Any]]]
    codecs: Mapping[str, Callable[[], Any]]  # the baselines: name -> codec
    run_baselines: Callable[[Sequence[tuple[str, Any]], Sequence[Any]], list[Record]]
    # One fit of the codec under test: (label, settings, file name, signal, target) -> record.
    fit_job: Callable[[tuple], Record]
    targets: tuple[float, ...]  # default rate points of the codec under test
    rate_key: str = "bpp"
    # One summary each; the first is the main one (rd.png). With several, results.json holds
    # them by the key's first word and each other one has its plot rd-<word>.png.
    dist_keys: tuple[str, ...] = ("psnr",)
    target_key: str = "rate.target"  # the config value a rate point sets
    # The rate points as the fit jobs take them; raises ValueError for ones the codec cannot use.
    rate_points: Callable[[Sequence[float]], Sequence[float]] = tuple
    # Options of this modality and their defaults: how signals are cut from the input files
    # (they key the fit cache too, as the file name alone does not say it).
    options: Mapping[str, Any] = field(default_factory=dict)
    title: Callable[..., str] = lambda **options: ""  # what follows the count in the plot title
    log_x: bool = True  # plot rates on a log axis
    # note(main summary, records, label) -> a line under the table; it may add to the summary.
    note: Callable[[dict[str, Any], list[Record], str], str] | None = None


def run(
    spec: BenchSpec,
    inputs: Sequence[Path],
    out: Path,
    *,
    codecs: Sequence[str] | None = None,
    targets: Sequence[float] | None = None,
    steps: int | None = None,
    config: str | None = None,
    overrides: Sequence[str] = (),
    label: str = "inrcodec",
    jobs: int = 1,
    argv: Sequence[str] | None = None,
    log=print,
    **options: Any,
) -> dict[str, Any]:
    """Run the benchmark; write ``records.jsonl`` (resume cache), ``results.json``, ``rd.png``
    (and one plot per further distortion), ``summary.md``; return the main summary.

    ``codecs``: baseline names (default: all of the spec's); ``targets``: rate points of the
    codec under test (default: the spec's; empty: baselines only); ``options``: the spec's own.
    """
    stray = sorted(set(options) - set(spec.options))
    if stray:
        raise TypeError(f"{spec.name} benchmark: unknown options {stray}; known: {sorted(spec.options)}")
    options = {**spec.options, **options}
    codecs = tuple(spec.codecs) if codecs is None else tuple(codecs)
    unknown = sorted(set(codecs) - set(spec.codecs))
    if unknown:
        raise ValueError(f"unknown codecs {unknown}; known: {sorted(spec.codecs)}")
    targets = spec.rate_points(spec.targets if targets is None else targets)
    if targets:  # a bad preset or override fails here, before any work
        settings = inr_settings(spec.name, config, steps, overrides, target_key=spec.target_key, **options)
    signals = spec.load(files_with_suffixes(inputs, spec.suffixes, spec.not_a, log), **options)
    if not signals:
        raise ValueError(f"no {spec.files} found in the inputs")
    out.mkdir(parents=True, exist_ok=True)
    records = []
    if targets:
        records += run_inr_jobs(signals, targets, codec=label, settings=settings, cache=out / "records.jsonl",
                                fit_job=spec.fit_job, jobs=jobs, log=log, rate_key=spec.rate_key,
                                dist_key=spec.dist_keys[0])
    records += spec.run_baselines(signals, [spec.codecs[name]() for name in codecs])
    subject = label if targets else None
    summaries = {key: summarize(records, subject, rate_key=spec.rate_key, dist_key=key) for key in spec.dist_keys}
    main = summaries[spec.dist_keys[0]]
    note = spec.note(main, records, label) if spec.note else ""
    names = {key: key.split("_")[0] for key in spec.dist_keys}
    document = main if len(summaries) == 1 else {names[key]: summary for key, summary in summaries.items()}
    write_results_json(out / "results.json", records, document, argv=argv)
    title = f"{len(signals)} {spec.noun}{'s' if len(signals) != 1 else ''}{spec.title(**options)}"
    for key, summary in summaries.items():
        plot = "rd.png" if summary is main else f"rd-{names[key]}.png"
        plot_rd(summary, out / plot, log_x=spec.log_x, title=title)
    table = "\n\n".join([*map(summary_table, summaries.values()), *([note] if note else [])])
    (out / "summary.md").write_text(table + "\n")
    log(table)
    return main
