"""Running the command line in the tests: in-process through typer's CliRunner (most tests:
options, mistakes, round trips), or as a real ``python -m inrcodec`` subprocess (the few tests
that check the installed entry point itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner, Result

from inrcodec.cli import app

_RUNNER = CliRunner()  # stdout and stderr apart, as a terminal's user sees them


def invoke(*args: str | Path) -> Result:
    """Run one command in this process. An exception the command does not turn into its one-line
    error (a traceback, for a user) propagates and fails the test."""
    return _RUNNER.invoke(app, [str(arg) for arg in args], catch_exceptions=False)


def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run one command through the real entry point, in a new Python process."""
    return subprocess.run([sys.executable, "-m", "inrcodec", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def exit_code(result: Result | subprocess.CompletedProcess) -> int:
    return result.returncode if isinstance(result, subprocess.CompletedProcess) else result.exit_code


def assert_one_line_error(result: Result | subprocess.CompletedProcess, *fragments: str) -> None:
    """The command failed with exactly one line on stderr, ``inrcodec: error: ...``, holding
    every fragment."""
    assert exit_code(result) != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inrcodec: error:"), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def assert_fit_refuses_each(bad_files: dict, out_folder: Path) -> None:
    """``bad_files``: name -> (input path, message fragment); each fails with one line, no output."""
    for name, (path, fragment) in bad_files.items():
        out = out_folder / f"{path.stem}.inrc"
        result = invoke("fit", path, "-o", out)
        assert_one_line_error(result, str(path), fragment)
        assert not out.exists(), name


def set_options(overrides) -> list[str]:
    """``--set`` options for config overrides."""
    return [arg for item in overrides for arg in ("--set", item)]
