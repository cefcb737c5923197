"""What a batch codes: folders, manifests with per-line options, output paths."""

from pathlib import Path

import pytest

from inrcodec.errors import InputError
from pipelines.batch.inputs import collect


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folder_is_searched_recursively_by_file_type_and_mirrored(tmp_path):
    for name in ["a.png", "deep/er/b.flac", "notes.md", "deep/c.JPG"]:
        _touch(tmp_path / "in" / name)
    items = collect(tmp_path / "in", tmp_path / "out")
    assert [(i.source.relative_to(tmp_path / "in").as_posix(), i.output.relative_to(tmp_path / "out").as_posix())
            for i in items] == [("a.png", "a.inrc"), ("deep/c.JPG", "deep/c.inrc"), ("deep/er/b.flac", "deep/er/b.inrc")]


def test_inputs_that_would_share_an_output_keep_their_suffix(tmp_path):
    _touch(tmp_path / "in" / "x.png")
    _touch(tmp_path / "in" / "x.wav")
    outputs = sorted(i.output.name for i in collect(tmp_path / "in", tmp_path / "out"))
    assert outputs == ["x.png.inrc", "x.wav.inrc"]


def test_manifest_lines_carry_their_own_options(tmp_path):
    _touch(tmp_path / "imgs" / "a.png")
    manifest = tmp_path / "list.txt"
    manifest.write_text("# a comment\nimgs/a.png --bpp 0.25 --set fit.lr=0.01 --steps 20\n\n/abs/elsewhere/b.wav\n")
    first, second = collect(manifest, tmp_path / "out")
    assert first.source == tmp_path / "imgs" / "a.png" and first.output == tmp_path / "out" / "imgs" / "a.inrc"
    assert first.options == {"bpp": 0.25, "overrides": ["fit.lr=0.01"], "steps": 20}
    assert second.source == Path("/abs/elsewhere/b.wav") and second.output == tmp_path / "out" / "b.inrc"


@pytest.mark.parametrize("line, message", [
    ("a.png --bpp", "pairs"), ("a.png --quality 3", "unknown option"), ("a.png --steps many", "needs an integer"),
    ("'unclosed", "quotation"),
])
def test_bad_manifest_lines_name_the_line(tmp_path, line, message):
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"ok.png\n{line}\n")
    with pytest.raises(InputError, match=message) as error:
        collect(manifest, tmp_path / "out")
    assert f"{manifest}:2" in str(error.value)


def test_missing_or_empty_sources_are_refused(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        collect(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no signal files"):
        collect(tmp_path / "empty", tmp_path / "out")
    _touch(tmp_path / "photo.png")
    with pytest.raises(InputError, match="manifest"):
        collect(tmp_path / "photo.png", tmp_path / "out")
