import json

import numpy as np
import pytest

from pipelines.bench.report import (
    bd_versus,
    plot_rd,
    rd_curves,
    summarize,
    summary_table,
    write_results_json,
)

PARAMS = [1, 2, 3, 4, 5]


def _records(codec, rate_scale, files=("f1", "f2"), rate_key="bpp", dist_key="psnr"):
    """Synthetic RD points: rate grows exponentially with PSNR, scaled per codec and file."""
    records = []
    for file_index, file in enumerate(files):
        for p in PARAMS:
            psnr = 24.0 + 3.0 * p + file_index
            rate = rate_scale * np.exp((psnr - 30.0) / 6.0) * (1 + file_index)
            records.append(
                {"codec": codec, "file": file, "param": p, rate_key: rate, dist_key: psnr}
            )
    return records


def test_curves_average_over_files_in_ascending_rate():
    curves = rd_curves(_records("a", 1.0))
    curve = curves["a"]
    assert curve["files"] == ["f1", "f2"]
    assert curve["param"] == PARAMS
    expected_psnr = [24.5 + 3.0 * p for p in PARAMS]
    np.testing.assert_allclose(curve["psnr"], expected_psnr)
    assert curve["bpp"] == sorted(curve["bpp"])


def test_subject_at_half_the_rate_has_minus_fifty_percent_bd_rate():
    records = _records("inr", 0.5) + _records("jpeg", 1.0)
    [(anchor, entry)] = bd_versus(records, "inr").items()
    assert anchor == "jpeg"
    assert entry["bd_rate"] == pytest.approx(-50.0, abs=1e-6)
    assert entry["bd_rate_per_file_mean"] == pytest.approx(-50.0, abs=1e-6)
    assert entry["per_file_n"] == 2
    assert entry["bd_dist"] > 0


def test_uncomputable_bd_rate_is_recorded_not_raised():
    far = [dict(r, psnr=r["psnr"] + 40.0) for r in _records("far", 1.0)]
    summary = summarize(_records("a", 1.0) + far, subject="a")
    entry = summary["bd"]["far"]
    assert entry["bd_rate"] is None and "overlap" in entry["error"]
    assert entry["bd_rate_per_file_mean"] is None and entry["per_file_n"] == 0


def test_files_coded_at_different_params_are_rejected():
    records = [r for r in _records("a", 1.0) if not (r["file"] == "f2" and r["param"] == 3)]
    with pytest.raises(ValueError, match="different parameter values"):
        rd_curves(records)


def test_duplicate_records_and_unknown_subject_are_rejected():
    records = _records("a", 1.0)
    with pytest.raises(ValueError, match="duplicate"):
        rd_curves(records + records[:1])
    with pytest.raises(ValueError, match="subject"):
        bd_versus(records, "b")


def test_codecs_run_on_different_files_are_not_compared():
    records = _records("a", 1.0) + _records("b", 1.0, files=("f1", "f3"))
    with pytest.raises(ValueError, match="different files"):
        bd_versus(records, "a")


def test_results_json_is_strict_and_carries_provenance(tmp_path):
    records = _records("inr", 0.5) + _records("jpeg", 1.0)
    records[0]["psnr_extra"] = float("inf")  # e.g. a lossless point
    records[1]["bytes"] = np.int64(12)  # numpy scalars from callers
    summary = summarize(records, subject="inr")
    path = tmp_path / "results.json"
    write_results_json(path, records, summary, argv=["bench", "--crop", "256"])

    def reject(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    document = json.loads(path.read_text(), parse_constant=reject)
    provenance = document["provenance"]
    assert {"date", "python", "platform", "numpy", "pillow"} <= provenance.keys()
    assert provenance["argv"] == ["bench", "--crop", "256"]
    assert document["records"][0]["psnr_extra"] is None
    assert document["records"][1]["bytes"] == 12
    assert document["summary"]["bd"]["jpeg"]["bd_rate"] == pytest.approx(-50.0, abs=1e-6)


@pytest.mark.parametrize("log_x", [False, True])
def test_plot_writes_a_png(tmp_path, log_x):
    summary = summarize(_records("inr", 0.5) + _records("jpeg", 1.0))
    path = tmp_path / "rd.png"
    plot_rd(summary, path, log_x=log_x, title="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_works_with_other_rate_and_distortion_keys(tmp_path):
    records = _records("opus", 1.0, rate_key="kbps", dist_key="snr") + _records(
        "inr", 2.0, rate_key="kbps", dist_key="snr"
    )
    summary = summarize(records, subject="inr", rate_key="kbps", dist_key="snr")
    assert summary["bd"]["opus"]["bd_rate"] == pytest.approx(100.0, abs=1e-6)
    table = summary_table(summary)
    assert "| codec | param | kbps | snr |" in table
    assert "| opus | +100.0% | +100.0% (2) |" in table
    plot_rd(summary, tmp_path / "audio.png")
    assert (tmp_path / "audio.png").stat().st_size > 0


def test_table_lists_every_point_of_every_codec():
    summary = summarize(_records("inr", 0.5) + _records("jpeg", 1.0), subject="inr")
    table = summary_table(summary)
    rows = [line for line in table.splitlines() if line.startswith(("| inr |", "| jpeg |"))]
    assert len(rows) == 2 * len(PARAMS) + 1  # points, plus the BD row for the anchor
    assert "-50.0%" in table
