"""Where the command line keeps compiled programs, how a user turns that off, that encodes in
the processes that opt in (the command line, its workers) release the programs they compiled,
and that a library caller's programs are left alone and reused."""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

import inrcodec
from inrcodec import compile_cache
from inrcodec.signal import Signal
from tests.conftest import FAST, crop_of_sample


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


def _image(offset: int = 0) -> Signal:
    data = crop_of_sample(32)[offset : offset + 16, offset : offset + 16].copy()
    return Signal("image", data, {"height": 16, "width": 16, "channels": 3, "bits": 8})


@contextlib.contextmanager
def _counting_compiles():
    """Yields a list that gains an entry for each program XLA compiles within the block."""
    compiled = []

    def listener(event, duration, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            compiled.append(duration)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield compiled
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_encodes_release_their_compiled_programs_so_a_long_process_keeps_running():
    # Without the release each small encode left about 1 470 memory maps behind, and a process
    # aborted near the kernel's 65 530-map limit after some 44 encodes.
    def maps() -> int:
        return len(Path("/proc/self/maps").read_text().splitlines())

    with compile_cache.programs_released():
        assert compile_cache.releasing_programs()
        inrcodec.encode(_image(), overrides=FAST)
        double = jax.jit(lambda x: 2 * x)
        double(jnp.ones(3))
        before = maps()
        for _ in range(2):
            inrcodec.encode(_image(), overrides=FAST)
        assert maps() - before < 300
        assert double._cache_size() == 0  # the process opted in: its own programs go too
    assert not compile_cache.releasing_programs()


def test_a_library_encode_leaves_the_callers_programs_and_reuses_its_own():
    assert not compile_cache.releasing_programs()
    double = jax.jit(lambda x: 2 * x)
    double(jnp.ones(3))
    inrcodec.encode(_image(), overrides=FAST)
    assert double._cache_size() == 1
    # Another signal of the same shape, another seed: every program is already compiled.
    with _counting_compiles() as compiled:
        inrcodec.encode(_image(16), overrides=FAST, seed=5)
    assert compiled == []


def test_the_command_line_opts_in_and_its_worker_processes_inherit_it(monkeypatch):
    from inrcodec import cli

    monkeypatch.delenv(compile_cache.RELEASE_ENV, raising=False)
    monkeypatch.setattr(compile_cache, "_release", False)
    monkeypatch.setattr(sys, "argv", ["inrcodec", "--help"])
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code == 0
    assert compile_cache.releasing_programs()
    probe = "from inrcodec import compile_cache as c; print(c.releasing_programs())"
    worker = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert worker.stdout.strip() == "True"


def test_programs_released_restores_the_previous_setting(monkeypatch):
    monkeypatch.delenv(compile_cache.RELEASE_ENV, raising=False)
    with compile_cache.programs_released():
        assert os.environ[compile_cache.RELEASE_ENV] == "1"
    assert compile_cache.RELEASE_ENV not in os.environ and not compile_cache.releasing_programs()
