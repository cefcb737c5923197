"""Turn benchmark records into mean RD curves, BD-rates, a results JSON, a plot and a table.

Generic over modality: records are dicts with at least "codec", "file", "param" and the chosen
rate and distortion keys ("bpp"/"psnr" for images, "kbps"/"psnr" for audio, "bpp"/"d1_psnr" for
point clouds). A codec's mean curve averages rate and distortion over files at each ``param``,
so every file must have been coded at the same parameter values.
"""

import json
import math
import platform
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import PIL
from matplotlib.figure import Figure

from pipelines.bench.bdrate import bd_psnr, bd_rate, mean_rd_curve

Record = dict[str, Any]


def record_head(codec: str, version: str, settings: dict[str, Any], file: str, param: Any, nbytes: int) -> Record:
    """The fields every benchmark record starts with, whatever the modality."""
    return {"codec": codec, "version": version, "settings": dict(settings), "file": file, "param": param,
            "bytes": nbytes}


def files_with_suffixes(inputs: Sequence[Path], suffixes: Sequence[str], what: str | None, log=print) -> list[Path]:
    """Files among the inputs with one of ``suffixes``, folders as such files (sorted); other
    files (a shell glob also matches README or MANIFEST files) are skipped with a note saying
    they are not ``what``, or with ``what=None`` kept for the loader to judge."""
    paths: list[Path] = []
    for item in map(Path, inputs):
        named = not item.is_dir()
        for path in [item] if named else sorted(item.iterdir()):
            if path.suffix.lower() in suffixes or (named and what is None):
                paths.append(path)
            elif named:
                log(f"skipping {path}: not {what} ({', '.join(suffixes)})")
    return paths


def rd_curves(
    records: Sequence[Record], rate_key: str = "bpp", dist_key: str = "psnr"
) -> dict[str, dict[str, Any]]:
    """Per codec: {"param", rate_key, dist_key (means over files, ascending rate), "files"}."""
    curves = {}
    for codec, by_file in _group(records).items():
        params = _common_params(codec, by_file)
        files = sorted(by_file)
        rates, dists = mean_rd_curve(
            [[by_file[f][p][rate_key] for p in params] for f in files],
            [[by_file[f][p][dist_key] for p in params] for f in files],
        )
        order = np.argsort(rates, kind="stable")
        curves[codec] = {
            "param": [params[i] for i in order],
            rate_key: rates[order].tolist(),
            dist_key: dists[order].tolist(),
            "files": files,
        }
    return curves


def bd_versus(
    records: Sequence[Record], subject: str, rate_key: str = "bpp", dist_key: str = "psnr"
) -> dict[str, dict[str, Any]]:
    """BD-rate (%) and BD-distortion of ``subject`` against each other codec as the anchor.

    Per anchor: "bd_rate" and "bd_dist" on the mean curves (None, with "error", when not
    computable), "bd_rate_per_file_mean" over the files where a per-file BD-rate is computable,
    and "per_file_n", the number of those files. Negative BD-rate: subject needs fewer bits.
    """
    curves = rd_curves(records, rate_key, dist_key)
    if subject not in curves:
        raise ValueError(f"subject codec {subject!r} not among {sorted(curves)}")
    grouped = _group(records)
    mine = curves[subject]
    result = {}
    for anchor, theirs in curves.items():
        if anchor == subject:
            continue
        if theirs["files"] != mine["files"]:
            raise ValueError(f"{subject} and {anchor} were run on different files")
        entry: dict[str, Any] = {"bd_rate": None, "bd_dist": None}
        args = (mine[rate_key], mine[dist_key], theirs[rate_key], theirs[dist_key])
        try:
            entry["bd_rate"] = bd_rate(*args)
            entry["bd_dist"] = bd_psnr(*args)
        except ValueError as error:
            entry["error"] = str(error)
        per_file = []
        for file in mine["files"]:
            a = grouped[subject][file].values()
            b = grouped[anchor][file].values()
            try:
                per_file.append(
                    bd_rate(*_points(a, rate_key, dist_key), *_points(b, rate_key, dist_key))
                )
            except ValueError:
                continue  # e.g. no overlap on this file; counted by per_file_n
        entry["bd_rate_per_file_mean"] = float(np.mean(per_file)) if per_file else None
        entry["per_file_n"] = len(per_file)
        result[anchor] = entry
    return result


def summarize(
    records: Sequence[Record],
    subject: str | None = None,
    rate_key: str = "bpp",
    dist_key: str = "psnr",
) -> dict[str, Any]:
    """Mean curves of every codec and, if ``subject`` is given, its BD figures vs the others."""
    return {
        "rate_key": rate_key,
        "dist_key": dist_key,
        "subject": subject,
        "curves": rd_curves(records, rate_key, dist_key),
        "bd": bd_versus(records, subject, rate_key, dist_key) if subject else {},
    }


def provenance(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """When and with what software results were made (and the command line, if given)."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "argv": list(argv) if argv is not None else None,
    }


def write_results_json(
    path: str | Path,
    records: Sequence[Record],
    summary: dict[str, Any],
    argv: Sequence[str] | None = None,
) -> None:
    """Write {"provenance", "summary", "records"} as strict JSON (NaN and inf become null)."""
    document = {"provenance": provenance(argv), "summary": summary, "records": list(records)}
    text = json.dumps(_finite(document), indent=1, allow_nan=False)
    Path(path).write_text(text + "\n")


def plot_rd(
    summary: dict[str, Any], path: str | Path, *, log_x: bool = False, title: str | None = None
) -> None:
    """Save a PNG of distortion against rate, one line per codec's mean curve."""
    rate_key, dist_key = summary["rate_key"], summary["dist_key"]
    # A bare Figure renders with Agg and leaves pyplot's global state (and backend) alone.
    figure = Figure(figsize=(6.4, 4.8), layout="constrained")
    axes = figure.subplots()
    for codec, curve in summary["curves"].items():
        axes.plot(curve[rate_key], curve[dist_key], marker="o", markersize=3, label=codec)
    if log_x:
        axes.set_xscale("log")
    axes.set_xlabel(rate_key)
    axes.set_ylabel(dist_key)
    if title:
        axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.savefig(path, format="png", dpi=120)


def dist_at_rate(curve: dict[str, Any], rate: float, rate_key: str = "bpp", dist_key: str = "psnr") -> float | None:
    """A mean curve's distortion at ``rate``, linear in log-rate between its points; None
    outside the curve (no extrapolation)."""
    rates, dists = np.asarray(curve[rate_key], float), np.asarray(curve[dist_key], float)
    if not rates.size or not rates[0] <= rate <= rates[-1] or not np.all(np.isfinite(dists)):
        return None
    return float(np.interp(math.log(rate), np.log(rates), dists))


def summary_table(summary: dict[str, Any]) -> str:
    """Markdown: mean rate and distortion at each point per codec, then BD figures if any."""
    rate_key, dist_key = summary["rate_key"], summary["dist_key"]
    lines = [f"| codec | param | {rate_key} | {dist_key} |", "|---|---|---|---|"]
    for codec, curve in summary["curves"].items():
        for param, rate, dist in zip(curve["param"], curve[rate_key], curve[dist_key], strict=True):
            lines.append(f"| {codec} | {param:g} | {rate:.4f} | {dist:.2f} |")
    if summary["bd"]:
        subject = summary["subject"]
        lines += [
            "",
            f"| anchor | BD-rate of {subject} (mean curve) | mean per-file BD-rate (files) "
            f"| BD-{dist_key} |",
            "|---|---|---|---|",
        ]
        for anchor, entry in summary["bd"].items():
            per_file = _percent(entry["bd_rate_per_file_mean"])
            dist = "n/a" if entry["bd_dist"] is None else f"{entry['bd_dist']:+.2f}"
            lines.append(
                f"| {anchor} | {_percent(entry['bd_rate'])} | {per_file} ({entry['per_file_n']}) "
                f"| {dist} |"
            )
    return "\n".join(lines)


def _group(records: Sequence[Record]) -> dict[str, dict[str, dict[Any, Record]]]:
    """codec -> file -> param -> record; a repeated (codec, file, param) is an error."""
    grouped: dict[str, dict[str, dict[Any, Record]]] = defaultdict(lambda: defaultdict(dict))
    for record in records:
        slot = grouped[record["codec"]][record["file"]]
        if record["param"] in slot:
            raise ValueError(
                f"duplicate record: {record['codec']} {record['file']} param {record['param']}"
            )
        slot[record["param"]] = record
    return grouped


def _common_params(codec: str, by_file: dict[str, dict[Any, Record]]) -> list[Any]:
    """The parameter values, which must be the same for every file of a codec."""
    param_sets = {frozenset(params) for params in by_file.values()}
    if len(param_sets) != 1:
        raise ValueError(f"{codec}: files were coded at different parameter values")
    return sorted(param_sets.pop())


def _points(records: Iterable[Record], rate_key: str, dist_key: str) -> tuple[list, list]:
    records = list(records)
    return [r[rate_key] for r in records], [r[dist_key] for r in records]


def _finite(value: Any) -> Any:
    """JSON-ready copy: numpy scalars as Python numbers, non-finite floats as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"
