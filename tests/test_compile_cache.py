"""Where the command line keeps compiled programs, how a user turns that off, and that encodes
release the programs they compiled."""

from pathlib import Path

import pytest

import inrcodec
from inrcodec import compile_cache


def test_cache_goes_under_the_user_cache_home_and_into_the_environment(tmp_path, monkeypatch):
    for name in ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", compile_cache.CACHE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = compile_cache.configure_environment()
    assert folder == tmp_path / "inrcodec" / "xla" and folder.is_dir()
    import os

    assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(folder)


def test_off_disables_and_a_users_own_jax_cache_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.setenv(compile_cache.CACHE_ENV, "off")
    assert compile_cache.configure_environment() is None
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv(compile_cache.CACHE_ENV, str(tmp_path / "ours"))
    assert compile_cache.configure_environment() == tmp_path / "mine"
    assert not (tmp_path / "ours").exists()


def test_an_unwritable_place_is_skipped(tmp_path, monkeypatch):
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(compile_cache.CACHE_ENV, str(blocker / "cache"))
    assert compile_cache.configure_environment() is None


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_encodes_release_their_compiled_programs_so_a_long_process_keeps_running():
    # Without the release each small encode left about 1 470 memory maps behind, and a process
    # aborted near the kernel's 65 530-map limit after some 44 encodes.
    from inrcodec.signal import Signal
    from tests.conftest import FAST, crop_of_sample

    image = Signal("image", crop_of_sample(16), {"height": 16, "width": 16, "channels": 3, "bits": 8})

    def maps() -> int:
        return len(Path("/proc/self/maps").read_text().splitlines())

    inrcodec.encode(image, bpp=8, overrides=FAST)
    before = maps()
    for _ in range(3):
        inrcodec.encode(image, bpp=8, overrides=FAST)
    assert maps() - before < 300
