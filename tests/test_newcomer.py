"""A newcomer's first session: default names never touch an input, output is only the result
lines, mistakes get one line that says what to do, and tiny inputs never cost much more than raw."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

import inrcodec
from inrcodec import cli, container
from inrcodec.codecs.stored import STORED_CODEC
from inrcodec.compile_cache import programs_released
from inrcodec.errors import ConfigError, FormatError, InputError, OutputError
from inrcodec.files import check_output
from tests.audio_clips import FAST_AUDIO, tone_clip, write_clip
from tests.cli_runs import assert_one_line_error, invoke, set_options
from tests.conftest import FAST, crop_of_sample
from tests.point_clouds import FAST_POINTS, sphere_cloud, write_ply
from tests.video_clips import FAST_VIDEO, moving_clip
from tests.video_clips import write_clip as write_video

def _inputs(folder: Path) -> dict[Path, list[str]]:
    """One file of every modality, each with the fit options (and so the compiled programs) of
    its modality's own command-line tests."""
    image = folder / "photo.png"
    iio.imwrite(image, crop_of_sample(32))
    audio = write_clip(folder / "voice.flac", tone_clip(0.25, 11025, 2), 11025, "PCM_16")
    video = write_video(folder / "clip.mkv", moving_clip(frames=3))
    cloud = write_ply(folder / "cloud.ply", *sphere_cloud(), ascii=True)
    return {
        image: ["--bpp", "3", "--seed", "1", *set_options(FAST)],
        audio: ["--kbps", "32", *set_options(FAST_AUDIO)],
        video: ["--bpp", "8", *set_options(FAST_VIDEO)],
        cloud: ["--depth", "6", *set_options(FAST_POINTS), *set_options(["fit.steps=400", "fit.lr=0.03"])],
    }


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


DECODED = {".png": ".png", ".flac": ".wav", ".mkv": ".mkv", ".ply": ".ply"}


# Runs command lines one after another through the console script's entry point, in one new
# process (one JAX start-up), as a user's shell session would: stdout and stderr are the user's.
SESSION = """
import json, sys
from inrcodec.cli import main
for argv in json.loads(sys.argv[1]):
    sys.argv = ["inrcodec", *argv]
    try:
        main()
    except SystemExit as exit_:
        if exit_.code:
            raise
"""


def test_fit_then_decode_with_default_names_never_touches_an_input_and_prints_only_results(tmp_path):
    inputs = _inputs(tmp_path)
    before = {p: _digest(p) for p in inputs}
    commands = [command for source, options in inputs.items()
                for command in (["fit", source.name, *options], ["decode", f"{source.stem}.inrc"])]
    session = subprocess.run([sys.executable, "-c", SESSION, json.dumps(commands)], capture_output=True, text=True,
                             cwd=tmp_path)
    assert session.returncode == 0 and session.stderr == "", session.stderr
    lines = [line for line in session.stdout.splitlines() if not line.startswith("note: ")]
    assert len(lines) == 2 * len(inputs), session.stdout
    for (source, _), fitted, decoded in zip(inputs.items(), lines[::2], lines[1::2]):
        output = f"{source.stem}.decoded{DECODED[source.suffix]}"
        assert fitted.startswith(f"{source.stem}.inrc: ") and decoded.startswith(f"{output}: ")
        assert (tmp_path / output).is_file()
    assert {p: _digest(p) for p in inputs} == before


def test_decoding_again_advises_force_but_never_onto_the_original(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    iio.imwrite("photo.png", crop_of_sample(8))
    Path("photo.inrc").write_bytes(STORED_CODEC.encode(inrcodec.load("photo.png")).blob)
    before = _digest(tmp_path / "photo.png")
    assert invoke("decode", "photo.inrc").exit_code == 0
    # The file in the way is our own output: --force is the advice ...
    assert_one_line_error(invoke("decode", "photo.inrc"), "photo.decoded.png", "--force")
    # ... but never when it is, by its name, the original the file was coded from.
    onto = invoke("decode", "photo.inrc", "-o", "photo.png")
    assert_one_line_error(onto, "may be the original")
    assert "--force" not in onto.stderr and _digest(tmp_path / "photo.png") == before


def test_the_default_decode_name_is_never_the_originals(tmp_path):
    blob = STORED_CODEC.encode(inrcodec.load(write_ply(tmp_path / "cloud.ply", sphere_cloud(50)[0]))).blob
    coded = tmp_path / "cloud.inrc"
    coded.write_bytes(blob)
    assert inrcodec.api.decoded_path(coded) == tmp_path / "cloud.decoded.ply"
    with pytest.raises(OutputError, match="may be the original") as error:
        check_output(tmp_path / "cloud.ply", force=False, coded_from=coded)
    assert "--force" not in str(error.value)
    check_output(tmp_path / "cloud.ply", force=True, coded_from=coded)  # an explicit --force still may


def test_save_never_replaces_a_file_unless_asked(tmp_path):
    path = tmp_path / "photo.png"
    iio.imwrite(path, crop_of_sample(8))
    signal = inrcodec.load(path)
    with pytest.raises(OutputError, match="already exists"):
        inrcodec.save(signal, path)
    inrcodec.save(signal, path, force=True)


def test_a_misspelt_option_names_the_function_and_the_right_option(tmp_path):
    with pytest.raises(TypeError, match=r"inrcodec.encode\(\) got an unknown option 'bbp' \(did you mean 'bpp'\?\)"):
        inrcodec.encode(tmp_path / "any.png", bbp=0.5)


def test_a_rate_target_in_the_wrong_unit_is_refused_not_reinterpreted(tmp_path):
    audio = write_clip(tmp_path / "a.wav", tone_clip(0.05, 8000), 8000, "PCM_16")
    with pytest.raises(ConfigError, match="kbps=, not bpp="):
        inrcodec.encode(audio, bpp=32)


@pytest.mark.parametrize("length", [1, 4, 8])
def test_a_truncated_file_is_called_truncated_not_foreign(length):
    blob = STORED_CODEC.encode(inrcodec.Signal("image", crop_of_sample(4), {"height": 4, "width": 4, "channels": 3,
                                                                            "bits": 8})).blob
    with pytest.raises(FormatError, match="truncated"):
        container.unpack(blob[:length])


def test_a_text_file_named_png_and_other_cloud_formats_get_a_reason(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image\n")
    with pytest.raises(InputError, match="no image format recognised"):
        inrcodec.load(text)
    xyz = tmp_path / "scan.xyz"
    xyz.write_text("0 0 0\n1 1 1\n")
    with pytest.raises(InputError, match=r"convert it first.*write_point_cloud"):
        inrcodec.load(xyz)


def test_mesh_faces_are_named_as_not_coded(tmp_path):
    path = tmp_path / "mesh.ply"
    path.write_text("ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\nproperty float z\n"
                    "element face 1\nproperty list uchar int vertex_indices\nend_header\n"
                    "0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n")
    assert inrcodec.load(path).meta["ignored_elements"] == ["face"]


def test_usage_errors_and_version_are_one_line(monkeypatch, capsys):
    for argv, code, expected in ((["fit", "x.png", "--bpp", "abc"], 2, "inrcodec: error: Invalid value for '--bpp'"),
                                 (["--version"], 0, f"inrcodec {inrcodec.__version__}")):
        monkeypatch.setattr(sys, "argv", ["inrcodec", *argv])
        with pytest.raises(SystemExit) as exit_, programs_released():  # main() opts in; the block restores
            cli.main()
        out = capsys.readouterr()
        assert exit_.value.code == code
        text = (out.err or out.out).strip()
        assert text.startswith(expected) and len(text.splitlines()) == 1


@pytest.mark.parametrize("source", ["image", "audio", "cloud"])
def test_tiny_inputs_are_stored_exactly_and_cost_at_most_a_header_more_than_raw(tmp_path, source):
    if source == "image":
        path = tmp_path / "tiny.png"
        iio.imwrite(path, crop_of_sample(8))
        raw = 8 * 8 * 3
    elif source == "audio":
        path = write_clip(tmp_path / "tiny.wav", tone_clip(0.01, 8000), 8000, "PCM_16")
        raw = 2 * 80
    else:
        rng = np.random.default_rng(1)
        path = write_ply(tmp_path / "tiny.ply", rng.random((10, 3)))
        raw = 10 * 3 * 8  # Open3D writes doubles
    signal = inrcodec.load(path)
    fast = {"image": FAST, "audio": FAST_AUDIO, "cloud": (*FAST_POINTS, "arch.depth=4")}[source]
    report = inrcodec.encode_report(signal, steps=10, overrides=(*fast, "fit.steps_per_call=10"))
    assert len(report.blob) <= raw + 64  # headers: signal, model, chunk framing, CRC
    if source != "cloud":  # a cloud's octree may still be smaller than its points, at 10-bit precision
        assert report.arch["name"] == "stored"
        assert np.array_equal(inrcodec.decode(report.blob).data, signal.data)
    stored = STORED_CODEC.encode(signal).blob
    assert np.array_equal(inrcodec.decode(stored).data, signal.data) and len(stored) <= raw + 64


def test_a_stored_header_that_claims_more_than_its_payload_is_refused_before_inflating():
    signal = inrcodec.Signal("image", crop_of_sample(8), {"height": 8, "width": 8, "channels": 3, "bits": 8})
    parsed = container.unpack(STORED_CODEC.encode(signal).blob)
    from inrcodec.bitstream import Writer

    w = Writer()
    w.u8(1)
    for value in (16384, 16384, 3, 8):  # a 16384x16384 image in a 200-byte file
        w.uvarint(value)
    forged = container.pack(container.Container(w.getvalue(), parsed.model, parsed.tensors, parsed.payload))
    with pytest.raises(FormatError, match="more than the"):
        inrcodec.decode(forged)
    short = container.pack(container.Container(parsed.signal, parsed.model, parsed.tensors, parsed.payload[:-5]))
    with pytest.raises(FormatError, match="stored samples"):
        inrcodec.decode(short)


def test_unsupported_files_in_a_batch_folder_are_listed_as_skipped(tmp_path):
    from pipelines.batch.inputs import unsupported_files
    from pipelines.batch.run import summary_lines

    iio.imwrite(tmp_path / "a.png", crop_of_sample(8))
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / ".hidden").write_text("x")
    assert unsupported_files(tmp_path) == [tmp_path / "notes.docx"]
    records = [{"path": str(tmp_path / "a.png"), "status": "ok", "bytes": 10},
               {"path": str(tmp_path / "notes.docx"), "status": "skipped", "reason": "unsupported file type '.docx'"}]
    lines = summary_lines(records, 1.0)
    assert lines[0].startswith("1 inputs: 1 coded, 0 already done")
    assert f"skipped: {tmp_path / 'notes.docx'}: unsupported file type '.docx'" in lines


@pytest.mark.parametrize("mode,channels", [("RGB;16", 3), ("RGBA;16", 4), ("LA;16", 2)])
def test_16_bit_colour_pngs_keep_their_depth_through_read_and_write(tmp_path, mode, channels):
    import png

    pixels = np.random.default_rng(2).integers(0, 65536, (6, 5, channels)).astype(np.uint16)
    path = tmp_path / "deep.png"
    png.from_array(pixels.reshape(6, 5 * channels), mode).save(str(path))
    signal = inrcodec.load(path)
    assert signal.meta["bits"] == 16 and np.array_equal(signal.data, pixels)
    inrcodec.save(signal, tmp_path / "again.png")
    reader = png.Reader(filename=str(tmp_path / "again.png")).asDirect()
    assert reader[3]["bitdepth"] == 16
    assert np.array_equal(inrcodec.load(tmp_path / "again.png").data, pixels)


def test_a_file_well_under_its_target_says_so_in_the_result(tiny_png):
    fitted = invoke("fit", tiny_png, "--bpp", "3", "--seed", "1", *set_options(FAST))
    assert fitted.exit_code == 0, fitted.stderr
    used = float(fitted.stdout.split(" bpp")[0].rsplit(" ", 1)[1])
    notes = [line for line in fitted.stdout.splitlines() if line.startswith("note: ")]
    assert (used < 0.95 * 3) == bool(notes)
    assert not notes or f"{used:.3g} of the 3 bpp allowed" in notes[0]


def test_batch_progress_counts_what_runs_and_names_the_device_plainly():
    from pipelines.batch.job import _device
    from pipelines.batch.run import _slots

    assert _device() == "cpu"
    assert _slots({"CPU": 1.0}, 1.0, 0.0) == 1 and _slots({"CPU": 8.0}, 2.0, 0.0) == 4
    assert _slots({"CPU": 8.0, "GPU": 1.0}, 1.0, 0.5) == 2


def test_a_png_with_an_sbit_chunk_keeps_its_16_bit_values(tmp_path):
    import png

    pixels = (np.arange(2 * 3 * 3).reshape(2, 3, 3) * 4096).astype(np.uint16)  # 12 significant bits
    path = tmp_path / "camera.png"
    png.Writer(3, 2, greyscale=False, bitdepth=16).write(open(path, "wb"), pixels.reshape(2, 9))
    raw = path.read_bytes()
    ihdr_end = 8 + 8 + 13 + 4
    sbit = b"sBIT" + bytes([12, 12, 12])
    import zlib

    chunk = (3).to_bytes(4, "big") + sbit + zlib.crc32(sbit).to_bytes(4, "big")
    path.write_bytes(raw[:ihdr_end] + chunk + raw[ihdr_end:])
    assert np.array_equal(inrcodec.load(path).data, pixels)


def test_packs_and_single_fits_make_the_same_choice_and_clouds_never_pack(tmp_path):
    from inrcodec.api import can_pack, encode_pack, make_config

    tiny = inrcodec.Signal("image", crop_of_sample(8), {"height": 8, "width": 8, "channels": 3, "bits": 8})
    config = make_config("image", overrides=(*FAST, "fit.steps=10", "fit.steps_per_call=10"))
    assert can_pack(tiny, config)
    [packed] = encode_pack([tiny], config)
    assert packed.arch.name == "stored"  # as inrcodec.encode would choose
    cloud = inrcodec.load(write_ply(tmp_path / "c.ply", sphere_cloud(50)[0]))
    assert not can_pack(cloud, config)


def test_an_exact_file_reports_null_not_infinity_in_json(tmp_path):
    path = tmp_path / "tiny.png"
    iio.imwrite(path, crop_of_sample(8))
    fitted = invoke("fit", path, "--json", *set_options((*FAST, "fit.steps=10", "fit.steps_per_call=10")))
    assert fitted.exit_code == 0, fitted.stderr
    summary = json.loads(fitted.stdout)
    assert summary["arch"]["name"] == "stored" and summary["psnr"] is None and "note" not in fitted.stdout
    with pytest.raises(ConfigError, match="its own size"):
        inrcodec.decode(tmp_path / "tiny.inrc", scale=2)


@pytest.mark.parametrize("command,missing,extra", [
    (["batch", "{folder}", "-o", "{folder}/out"], "ray", "batch"),
    (["bench", "image", "{folder}"], "matplotlib", "bench"),
    (["bench", "pointcloud", "{folder}"], "DracoPy", "bench"),
])
def test_a_missing_optional_extra_is_named_in_one_line(tmp_path, monkeypatch, command, missing, extra):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == missing else find_spec(name, *a))
    iio.imwrite(tmp_path / "a.png", crop_of_sample(8))
    result = invoke(*[part.format(folder=tmp_path) for part in command])
    assert_one_line_error(result, f"needs {missing}", f"pip install 'inrcodec[{extra}]'")
