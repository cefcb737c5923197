import json

import imageio.v3 as iio
import pytest

from pipelines.bench.run_image import main

from tests.bench.synthetic import smooth_noisy_rgb


def test_command_line_writes_results_plot_and_table(tmp_path, capsys):
    paths = []
    for seed in range(2):
        paths.append(str(tmp_path / f"img{seed}.png"))
        iio.imwrite(paths[-1], smooth_noisy_rgb(80, 72, seed=seed))
    out = tmp_path / "out"
    main(
        [
            *paths,
            "--crop",
            "64",
            "--codecs",
            "jpeg,jpeg2000",
            "--subject",
            "jpeg2000",
            "--out",
            str(out),
        ]
    )
    document = json.loads((out / "results.json").read_text())
    assert {r["codec"] for r in document["records"]} == {"jpeg", "jpeg2000"}
    assert document["provenance"]["argv"][-2:] == ["--out", str(out)]
    assert (out / "rd.png").read_bytes()[:4] == b"\x89PNG"
    assert "| jpeg2000 |" in capsys.readouterr().out


def test_unknown_codec_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit):
        main(["x.png", "--codecs", "jpeg,bpg", "--out", str(tmp_path)])
