"""Modalities by name, by frozen wire code and by file extension; the signal header chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inrcodec.bitstream import Reader, Writer
from inrcodec.errors import FormatError, InputError
from inrcodec.modalities.base import Modality

REGISTRY: dict[str, Modality] = {}
BY_WIRE_CODE: dict[int, Modality] = {}


def register(modality: Modality) -> Modality:
    REGISTRY[modality.name] = modality
    BY_WIRE_CODE[modality.wire_code] = modality
    return modality


def write_signal_chunk(modality: Modality, meta: dict[str, Any]) -> bytes:
    w = Writer()
    w.u8(modality.wire_code)
    modality.write_meta(meta, w)
    return w.getvalue()


def read_signal_chunk(data: bytes) -> tuple[Modality, dict[str, Any]]:
    r = Reader(data, what="signal header")
    code = r.u8()
    if code not in BY_WIRE_CODE:
        raise FormatError(f"unknown modality code {code}; upgrade inrcodec")
    modality = BY_WIRE_CODE[code]
    meta = modality.read_meta(r)
    r.expect_end()
    return modality, meta


def modality_for_path(path: Path) -> Modality:
    suffix = Path(path).suffix.lower()
    for modality in REGISTRY.values():
        if suffix in modality.extensions:
            return modality
    for modality in REGISTRY.values():
        if hint := modality.conversion_hint(Path(path)):
            raise InputError(f"{path}: {suffix} files are not read; {hint}")
    known = sorted(ext for m in REGISTRY.values() for ext in m.extensions)
    raise InputError(f"{path}: unsupported file type {suffix or '(none)'!r}; supported: {' '.join(known)}")
