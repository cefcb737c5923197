import json

import imageio.v3 as iio
import pytest

from pipelines.bench.run import run
from pipelines.bench.specs import IMAGE
from tests.bench.synthetic import smooth_noisy_rgb
from tests.conftest import FAST


def test_benchmark_writes_results_plot_table_and_resumes_from_its_cache(tmp_path):
    image = tmp_path / "img.png"
    iio.imwrite(image, smooth_noisy_rgb(40, 36, seed=0))
    out = tmp_path / "out"
    messages = []
    # From 6 bpp up the network of FAST is as large as it gets on a 32x32 crop: the four fits share
    # their compiled programs (the step search still spends each target).
    options = dict(crop=32, codecs=("jpeg", "jpeg2000"), targets=(6.0, 8.0, 12.0, 16.0), overrides=FAST, log=messages.append)
    summary = run(IMAGE, [tmp_path], out, **options)
    document = json.loads((out / "results.json").read_text())
    assert {r["codec"] for r in document["records"]} == {"inrcodec", "jpeg", "jpeg2000"}
    inr = [r for r in document["records"] if r["codec"] == "inrcodec"]
    assert all(r["bpp"] <= r["param"] for r in inr) and len(inr) == 4
    assert (out / "rd.png").read_bytes()[:4] == b"\x89PNG"
    assert set(summary["bd"]) == {"jpeg", "jpeg2000"}
    assert "| inrcodec |" in (out / "summary.md").read_text()

    messages.clear()
    run(IMAGE, [image], out, **options)
    assert "4 cached, 0 to fit" in messages[0]


def test_unknown_codec_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown codecs"):
        run(IMAGE, [tmp_path], tmp_path / "out", codecs=("jpeg", "bpg"))
