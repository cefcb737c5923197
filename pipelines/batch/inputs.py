"""What a batch codes: the signal files of a folder, or the lines of a manifest.

A manifest is a text file with one path per line (relative to the manifest's folder), optional
per-line options after it, and ``#`` comments::

    images/kodim01.png --bpp 0.25
    speech/arctic_a0001.wav --kbps 16 --steps 2000
"""

from __future__ import annotations

import collections
import dataclasses
import shlex
from pathlib import Path
from typing import Any

from inrcodec.errors import InputError

MANIFEST_SUFFIXES = (".txt", ".lst", ".manifest")
# Per-line manifest options and how to parse them.
LINE_OPTIONS = {"--bpp": float, "--kbps": float, "--steps": int, "--seed": int, "--config": str, "--set": str}


@dataclasses.dataclass(frozen=True)
class BatchItem:
    """One signal to code: where it is, where its .inrc goes, and its own options."""

    source: Path
    output: Path
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


def collect(source: Path, out: Path) -> list[BatchItem]:
    """The items of a folder (recursively, by file type) or a manifest, outputs under ``out``."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"{source}: no such file or folder")
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in _signal_suffixes())
        entries = [(p, p.relative_to(source), {}) for p in files]
    elif source.suffix.lower() in MANIFEST_SUFFIXES:
        entries = _read_manifest(source)
    else:
        raise InputError(f"{source}: give a folder of signals or a manifest ({' '.join(MANIFEST_SUFFIXES)}) "
                         "with one path per line")
    if not entries:
        raise InputError(f"{source}: no signal files found ({' '.join(sorted(_signal_suffixes()))})")
    return [BatchItem(path, out / rel, options) for path, rel, options in _unique_outputs(entries)]


def unsupported_files(source: Path) -> list[Path]:
    """The files of a folder that are not signals (hidden files aside): the batch lists them as
    skipped, so that nothing in the folder goes unmentioned."""
    source = Path(source)
    if not source.is_dir():
        return []
    return sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() not in _signal_suffixes()
                  and not any(part.startswith(".") for part in p.relative_to(source).parts))


def _signal_suffixes() -> set[str]:
    from inrcodec.modalities import REGISTRY

    return {ext for modality in REGISTRY.values() for ext in modality.extensions}


def _read_manifest(manifest: Path) -> list[tuple[Path, Path, dict[str, Any]]]:
    entries = []
    base = manifest.parent
    for number, line in enumerate(manifest.read_text().splitlines(), start=1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise InputError(f"{manifest}:{number}: {exc}") from None
        if not words:
            continue
        path = Path(words[0])
        path = path if path.is_absolute() else base / path
        rel = path.relative_to(base) if path.is_relative_to(base) else Path(path.name)
        entries.append((path, rel, _line_options(words[1:], f"{manifest}:{number}")))
    return entries


def _line_options(words: list[str], where: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if len(words) % 2:
        raise InputError(f"{where}: options come in pairs (--name value), got {' '.join(words)!r}")
    for name, value in zip(words[::2], words[1::2]):
        if name not in LINE_OPTIONS:
            raise InputError(f"{where}: unknown option {name}; known: {' '.join(LINE_OPTIONS)}")
        try:
            parsed = LINE_OPTIONS[name](value)
        except ValueError:
            kind = {float: "a number", int: "an integer"}.get(LINE_OPTIONS[name], "a value")
            raise InputError(f"{where}: {name} needs {kind}, got {value!r}") from None
        key = name.lstrip("-")
        if key == "set":
            options.setdefault("overrides", []).append(parsed)
        else:
            options[key] = parsed
    return options


def _unique_outputs(entries):
    """``a/b.png`` -> ``a/b.inrc``; inputs that would share an output keep their suffix (``b.png.inrc``)."""
    plain = [rel.with_suffix(".inrc") for _, rel, _ in entries]
    counts = collections.Counter(plain)
    return [(path, target if counts[target] == 1 else rel.with_name(rel.name + ".inrc"), options)
            for (path, rel, options), target in zip(entries, plain)]
