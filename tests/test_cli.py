"""The command line: success paths and user mistakes, run in-process (typer's CliRunner), and
the real entry point (``python -m inrcodec``) in a few subprocess tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inrcodec import container
from tests.cli_runs import assert_one_line_error, invoke, run_cli, set_options
from tests.conftest import FAST, GOLDEN_IMAGE, REPO, crop_of_sample

REPO_CONFIGS = REPO / "configs"

SET_FAST = set_options(FAST)


def test_fit_decode_info_round_trip(tiny_png, tmp_path):
    # fit and decode through the real entry point, info and a rescaled decode in-process
    out = tmp_path / "tiny.inrc"
    fitted = run_cli("fit", tiny_png, "-o", out, "--bpp", "3", "--seed", "1", *SET_FAST)
    assert fitted.returncode == 0, fitted.stderr
    assert "bytes" in fitted.stdout and "psnr" in fitted.stdout
    assert out.stat().st_size * 8 <= 3 * 32 * 32

    png = tmp_path / "back.png"
    decoded = run_cli("decode", out, "-o", png)
    assert decoded.returncode == 0, decoded.stderr

    header = invoke("info", out)
    assert header.exit_code == 0
    info = json.loads(header.stdout)
    assert info["bytes"]["total"] == out.stat().st_size and info["signal"]["height"] == 32

    big = tmp_path / "big.png"
    assert invoke("decode", out, "-o", big, "--scale", "2").exit_code == 0
    import imageio.v3 as iio

    assert iio.imread(png).shape == (32, 32, 3) and iio.imread(big).shape == (64, 64, 3)


def test_help_lists_the_commands_without_importing_jax():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "inrcodec", "--help"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    for command in ("fit", "decode", "info", "bench", "batch"):
        assert command in result.stdout
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert "inrcodec.cli" in imported
    assert not [name for name in imported if name.split(".")[0] in ("jax", "jaxlib", "equinox", "optax", "ray")]


def test_a_corrupt_file_is_one_line_on_stderr_from_the_entry_point(tmp_path):
    blob = GOLDEN_IMAGE.read_bytes()
    damaged = tmp_path / "damaged.inrc"
    damaged.write_bytes(blob[:40] + bytes([blob[40] ^ 1]) + blob[41:])
    result = run_cli("decode", damaged, "-o", tmp_path / "out.png")
    assert result.returncode == 1 and result.stdout == ""
    assert_one_line_error(result, str(damaged), "checksum mismatch")
    assert not (tmp_path / "out.png").exists()


def test_fit_writes_beside_the_input_by_default_and_keeps_the_input(tiny_png):
    before = tiny_png.read_bytes()
    assert invoke("fit", tiny_png, *SET_FAST).exit_code == 0
    assert tiny_png.with_suffix(".inrc").exists()
    assert tiny_png.read_bytes() == before


def test_existing_output_needs_force(tiny_png, tmp_path):
    out = tmp_path / "exists.inrc"
    out.write_bytes(b"keep me")
    result = invoke("fit", tiny_png, "-o", out, *SET_FAST)
    assert_one_line_error(result, str(out), "--force")
    assert out.read_bytes() == b"keep me"
    assert invoke("fit", tiny_png, "-o", out, "--force", *SET_FAST).exit_code == 0
    assert out.read_bytes()[:4] == b"INRC"


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    text = tmp_path / "notes.png"
    text.write_text("this is not an image\n")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    folder = tmp_path / "folder.png"
    folder.mkdir()
    return {
        "missing": (tmp_path / "nope.png", "no such file"),
        "not an image": (text, "not a readable image"),
        "empty": (empty, "empty"),
        "directory": (folder, "directory"),
        "unsupported type": (tmp_path / "x.docx", "unsupported file type"),
    }


@pytest.mark.parametrize("case", ["missing", "not an image", "empty", "directory", "unsupported type"])
def test_fit_rejects_bad_input_with_one_line_and_no_output(tmp_path, case):
    path, message = _bad_inputs(tmp_path)[case]
    if case == "unsupported type":
        path.write_text("data")
    out = tmp_path / "out.inrc"
    result = invoke("fit", path, "-o", out)
    assert_one_line_error(result, message)
    assert not out.exists()


@pytest.mark.parametrize("option", [["--bpp", "-1"], ["--bpp", "0"], ["--steps", "0"], ["--set", "fit.lr=-1"], ["--set", "bogus.key=1"],
                                    ["--lmbda", "0"], ["--lmbda", "0.01", "--bpp", "1"]])
def test_fit_rejects_absurd_options(tiny_png, tmp_path, option):
    out = tmp_path / "out.inrc"
    result = invoke("fit", tiny_png, "-o", out, *option)
    assert_one_line_error(result)
    assert not out.exists()


def test_decode_and_info_reject_non_inrc_files(tmp_path, tiny_png):
    for command in ("decode", "info"):
        result = invoke(command, tiny_png, *(["-o", str(tmp_path / "o.png")] if command == "decode" else []))
        assert_one_line_error(result, "not an .inrc file")
    assert not (tmp_path / "o.png").exists()


def test_unwritable_output_folder_is_reported(tiny_png, tmp_path):
    result = invoke("fit", tiny_png, "-o", tmp_path / "no" / "such" / "dir" / "x.inrc")
    assert_one_line_error(result, "does not exist")


def _bad_inrc_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """Each case: (arguments after the command, expected fragment of the one-line error)."""
    blob = GOLDEN_IMAGE.read_bytes()
    files = {"empty.inrc": b"", "photo.inrc": b"\x89PNG\r\n\x1a\n" + bytes(64),
             "damaged.inrc": blob[:40] + bytes([blob[40] ^ 1]) + blob[41:], "future.inrc": blob[:4] + b"\x02\x00" + blob[6:]}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "folder.inrc").mkdir()
    return {
        "missing": ([str(tmp_path / "nope.inrc")], "no such file"),
        "directory": ([str(tmp_path / "folder.inrc")], "is a directory"),
        "empty": ([str(tmp_path / "empty.inrc")], "file is empty"),
        "not an .inrc file": ([str(tmp_path / "photo.inrc")], "not an .inrc file"),
        "corrupt": ([str(tmp_path / "damaged.inrc")], "checksum mismatch"),
        "newer format": ([str(tmp_path / "future.inrc")], "upgrade inrcodec"),
    }


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "not an .inrc file", "corrupt", "newer format"])
@pytest.mark.parametrize("command", ["decode", "info"])
def test_decode_and_info_reject_bad_files_with_one_line(tmp_path, command, case):
    args, message = _bad_inrc_inputs(tmp_path)[case]
    out = tmp_path / "out.png"
    result = invoke(command, *args, *(["-o", out] if command == "decode" else []))
    assert_one_line_error(result, args[0], message)
    assert not out.exists() and result.stdout == ""


@pytest.mark.parametrize("option, message", [
    (["--scale", "0"], "--scale must be a positive number"),
    (["--scale", "-1"], "--scale must be a positive number"),
    (["-o", "{tmp}/out.xyz"], "cannot write image as '.xyz'"),
    (["-o", "{tmp}/no/such/dir/out.png"], "does not exist"),
    (["-o", "{tmp}/exists.png"], "already exists; pass --force"),
])
def test_decode_rejects_bad_options_and_outputs_without_writing(tmp_path, option, message):
    (tmp_path / "exists.png").write_bytes(b"keep me")
    option = [arg.replace("{tmp}", str(tmp_path)) for arg in option]
    result = invoke("decode", GOLDEN_IMAGE, *option)
    assert_one_line_error(result, message)
    assert (tmp_path / "exists.png").read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.png"]  # no partial or temporary file


@pytest.mark.parametrize("args, message", [
    (["image", "{tmp}/nope"], "no such file or folder"),
    (["image", "{tmp}"], "no images found"),
    (["image", "{tmp}", "--rates", "-1"], "--rates must be positive"),
    (["image", "{tmp}", "--codecs", "bogus"], "unknown codecs"),
    (["audio", "{tmp}/nope"], "no such file or folder"),
    (["audio", "{tmp}", "--seconds", "-1"], "--seconds must not be negative"),
    (["pointcloud", "{tmp}", "--depths", "0.5"], "octree depths 1..16"),
    (["video", "{tmp}", "--set", "fit.bogus=1"], "unknown key"),
])
def test_bench_rejects_bad_inputs_with_one_line(tmp_path, args, message):
    result = invoke("bench", *[arg.replace("{tmp}", str(tmp_path)) for arg in args], "--out", tmp_path / "results")
    assert_one_line_error(result, message)
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("command, own, rates", [
    ("image", "--crop", "--rates"), ("audio", "--seconds", "--rates"), ("pointcloud", None, "--depths"),
    ("video", None, "--rates")])
def test_every_bench_command_has_the_shared_options_and_its_own(command, own, rates):
    result = run_cli("bench", command, "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--out", "--codecs", rates, "--steps", "--config", "--set", "--label", "--jobs"):
        assert option in result.stdout
    assert {"--crop", "--seconds"} & set(result.stdout.split()) == ({own} if own else set())
    assert f"results/{command}" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["{tmp}/nope"], "no such file or folder"),
    (["{tmp}"], "no signal files found"),
    (["{tmp}", "--retries", "-1"], "--retries must be >= 0"),
    (["{tmp}", "--bpp", "0"], "--bpp must be a positive number"),
])
def test_batch_rejects_bad_inputs_before_starting_ray(tmp_path, args, message):
    result = invoke("batch", *[arg.replace("{tmp}", str(tmp_path)) for arg in args], "-o", tmp_path / "out")
    assert_one_line_error(result, message)
    assert not (tmp_path / "out").exists()
    assert "ray" not in sys.modules or not sys.modules["ray"].is_initialized()


def test_latent_grid_preset_with_a_fixed_lambda(tmp_path):
    import imageio.v3 as iio

    source = tmp_path / "small.png"
    iio.imwrite(source, crop_of_sample(24))
    out = tmp_path / "small.inrc"
    # The networks of test_latent_codec's TINY, 10 steps per call: the same compiled programs.
    quick = set_options(["fit.steps_per_call=10", "arch.levels=3", "arch.synth_width=8", "arch.arm_width=6"])
    result = invoke("fit", source, "-o", out, "--config", REPO_CONFIGS / "image" / "latentgrid-cpu.yaml",
                    "--lmbda", "0.01", "--steps", "200", *quick, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["arch"]["name"] == "latentgrid" and summary["bytes"] == out.stat().st_size
    info = json.loads(invoke("info", out).stdout)
    assert info["format_version"] == "%d.%d" % (container.FORMAT_MAJOR, container.FORMAT_MINOR)
    assert info["latents"]["count"] == 24 * 24 + 12 * 12 + 6 * 6
