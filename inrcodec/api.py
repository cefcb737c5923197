"""The library API: the codec's pipeline, spelled out once, and the only place that picks a codec.

    file --read--> Signal --codec.encode--> .inrc bytes --unpack--> codec.decode --> Signal

The configuration's architecture names the codec that encodes; the file's names the one that
decodes (:mod:`inrcodec.codecs`). A signal longer than ``fit.max_samples`` is coded as segments
along time, each an .inrc file of its own (:mod:`inrcodec.segments`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import os
from pathlib import Path
from typing import Any

import numpy as np

from inrcodec import config as config_mod
from inrcodec import container
from inrcodec.codecs import BY_ARCH, Encoded, Progress, codec_for
from inrcodec.codecs.stored import smaller_of
from inrcodec.errors import ConfigError, FormatError, OutputError
from inrcodec.files import atomic_path, check_output, check_readable_file
from inrcodec.inr import read_arch
from inrcodec.modalities import REGISTRY, Modality, modality_for_path, read_signal_chunk
from inrcodec.modalities.pointcloud import to_open3d  # noqa: F401  (re-exported as inrcodec.to_open3d)
from inrcodec.segments import encode_segments, inner_files, segment_count
from inrcodec.signal import Signal

Source = str | os.PathLike | Signal

@dataclasses.dataclass
class EncodeReport:
    """An encoded file with its measured rate and distortion (measured by decoding the file)."""

    blob: bytes
    signal: Signal
    rate: dict[str, float]
    metrics: dict[str, float]
    fit_seconds: float
    attempts: int
    arch: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return {"bytes": len(self.blob), **self.rate, **self.metrics, "fit_seconds": self.fit_seconds,
                "attempts": self.attempts, "arch": self.arch}


def load(path: str | os.PathLike) -> Signal:
    """Read a signal file; the modality is chosen by the file extension."""
    path = Path(path)
    return modality_for_path(path).read(path)


def save(signal: Signal, path: str | os.PathLike, *, force: bool = False) -> None:
    """Write a signal atomically in the format named by the path's extension (video: a path
    without one is a new folder of PNG frames). An existing file is replaced only with ``force``."""
    path = check_output(Path(path), force=force)
    modality = REGISTRY[signal.modality]
    if path.suffix == "" and modality.writes_folders:
        modality.write(signal, path)  # staged in a hidden folder and renamed into place
        return
    if path.suffix.lower() not in modality.extensions:
        raise OutputError(f"{path}: cannot write {signal.modality} as {path.suffix or '(no extension)'!r}; "
                          f"use one of {' '.join(modality.extensions)}")
    with atomic_path(path) as tmp:
        try:
            modality.write(signal, tmp)
        except OutputError as exc:  # name the file the user asked for, not the temporary one
            raise OutputError(str(exc).replace(str(tmp), str(path))) from None


def make_config(
    modality: str,
    *,
    config: str | os.PathLike | None = None,
    target: float | None = None,
    steps: int | None = None,
    seed: int | None = None,
    overrides: tuple[str, ...] | list[str] = (),
) -> config_mod.CodecConfig:
    """The codec configuration from defaults, a YAML preset, and explicit options."""
    extra = list(overrides)
    if target is not None:
        if not target > 0:
            raise ConfigError(f"rate target must be positive, got {target}")
        extra.append(f"rate.target={target}")
    if steps is not None:
        extra.append(f"fit.steps={steps}")
    if seed is not None:
        extra.append(f"seed={seed}")
    return config_mod.load(modality, Path(config) if config else None, extra)


def encode_report(
    source: Source,
    *,
    bpp: float | None = None,
    kbps: float | None = None,
    config: str | os.PathLike | None = None,
    steps: int | None = None,
    seed: int | None = None,
    overrides: tuple[str, ...] | list[str] = (),
    progress: Progress | None = None,
) -> EncodeReport:
    """Encode and measure: rate from the real byte count, distortion from decoding the bytes."""
    signal = source if isinstance(source, Signal) else load(source)
    target = _rate_target(REGISTRY[signal.modality], bpp=bpp, kbps=kbps)
    codec_config = make_config(signal.modality, config=config, target=target, steps=steps, seed=seed,
                               overrides=overrides)
    return measure(signal, encode_signal(signal, codec_config, progress))


def encode_signal(signal: Signal, config: config_mod.CodecConfig, progress: Progress | None = None) -> Encoded:
    """Code a signal under a resolved config with the codec its architecture names; in segments
    along time when it has more than ``fit.max_samples`` samples."""
    modality = REGISTRY[signal.modality]
    codec = codec_for(config.arch.name, modality, ConfigError)
    count = segment_count(modality, signal, config.fit.max_samples)
    if count > 1:  # each segment is coded as a signal of its own, by this function
        return within_target(encode_segments(modality, signal, config, count, encode_signal, progress), signal, config)
    return within_target(smaller_of(codec.encode(signal, config, progress), signal), signal, config)


def can_pack(signal: Signal, config: config_mod.CodecConfig) -> bool:
    """Whether ``encode_pack`` may fit this signal together with others: one network over all
    of its samples, in one segment, by a codec that fits packs."""
    codec = BY_ARCH[config.arch.name]
    modality = REGISTRY[signal.modality]
    return (codec.packable and modality.name in codec.modalities
            and segment_count(modality, signal, config.fit.max_samples) == 1)


def encode_pack(signals: list[Signal], config: config_mod.CodecConfig) -> list[Encoded]:
    """Code signals that ``can_pack`` together, one file each (the file ``encode_signal`` would
    make of each, up to float rounding)."""
    from inrcodec.codecs.weight_codec import encode_signals

    return [within_target(smaller_of(encoded, signal), signal, config)
            for encoded, signal in zip(encode_signals(signals, config), signals)]


def within_target(encoded: Encoded, signal: Signal, config: config_mod.CodecConfig) -> Encoded:
    """``encoded``, checked against the rate target: the target is a hard limit on the file's
    size, so a codec whose last resort still overshoots is an error, never a larger file."""
    if config.rate.target > 0:
        modality = REGISTRY[signal.modality]
        budget = modality.budget_bits(config.rate.target, signal.meta)
        if 8 * len(encoded.blob) > budget:
            reached = config.rate.target * 8 * len(encoded.blob) / budget  # budgets are linear in the target
            raise ConfigError(f"could not reach the rate target of {config.rate.target:g} {modality.rate_unit}: the "
                              f"smallest file reached takes {len(encoded.blob)} bytes ({reached:.4g} "
                              f"{modality.rate_unit}); use a higher target")
    return encoded


def measure(signal: Signal, encoded: Encoded) -> EncodeReport:
    """The report of an encoded file of ``signal``: decode it, measure rate and distortion."""
    modality = REGISTRY[signal.modality]
    decoded = decode(encoded.blob)
    return EncodeReport(
        blob=encoded.blob,
        signal=decoded,
        rate=modality.rate(len(encoded.blob), signal.meta),
        metrics=modality.metrics(signal, decoded),
        fit_seconds=encoded.fit_seconds,
        attempts=encoded.attempts,
        arch={"name": encoded.arch.name, **dataclasses.asdict(encoded.arch)},
    )


def _rate_target(modality: Modality, **targets: float | None) -> float | None:
    """The rate target given, which must be in the modality's own unit (bpp or kbps)."""
    given = {unit: value for unit, value in targets.items() if value is not None}
    wrong = sorted(set(given) - {modality.rate_unit})
    if wrong:
        raise ConfigError(f"{modality.name} rate targets are given as {modality.rate_unit}=, not {wrong[0]}=")
    return given.get(modality.rate_unit)


ENCODE_OPTIONS = ("bpp", "kbps", "config", "steps", "seed", "overrides", "progress")


def encode(source: Source, **options) -> bytes:
    """Encode a file or Signal into .inrc bytes (``len(bytes) * 8`` is the rate).

    Options: ``bpp`` (images, video, point clouds: bits per pixel or per point) or ``kbps``
    (audio) rate target, ``config`` YAML preset, ``steps``, ``seed``, ``overrides``
    (``section.key=value`` strings), ``progress`` callback.
    """
    unknown = sorted(set(options) - set(ENCODE_OPTIONS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], ENCODE_OPTIONS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TypeError(f"inrcodec.encode() got an unknown option {unknown[0]!r}{hint}; "
                        f"options: {', '.join(ENCODE_OPTIONS)}")
    return encode_report(source, **options).blob


def _read_blob(source: bytes | str | os.PathLike) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    return check_readable_file(Path(source)).read_bytes()


@contextlib.contextmanager
def _naming(source):
    """Prefix format errors with the file's path, when the bytes came from a file."""
    try:
        yield
    except FormatError as exc:
        if isinstance(source, (str, os.PathLike)):
            raise FormatError(f"{source}: {exc}") from None
        raise


def decode(source: bytes | str | os.PathLike, *, scale: float = 1.0, fps_scale: float = 1.0) -> Signal:
    """Rebuild the signal from .inrc bytes or a path; ``scale`` renders at another resolution,
    ``fps_scale`` a video at another frame rate (2: one new frame between each two)."""
    for name, value in (("scale", scale), ("fps scale", fps_scale)):
        if not (0 < value <= 16):
            raise ConfigError(f"{name} must be in (0, 16], got {value}")
    with _naming(source):
        return _decode(_read_blob(source), scale, fps_scale)


def _decode(blob: bytes, scale: float, fps_scale: float = 1.0) -> Signal:
    parsed = container.unpack(blob)
    modality, meta = read_signal_chunk(parsed.signal)
    if fps_scale != 1.0 and modality.name != "video":
        raise ConfigError(f"--fps-scale applies to video; this file holds a {modality.name}")
    if parsed.segments is not None:
        return modality.join([_decode(inner, scale, fps_scale) for inner in inner_files(parsed, modality, meta)])
    arch, codec = _architecture(parsed, modality, meta)
    return codec.decode(parsed, modality, meta, arch, scale, fps_scale)


def _architecture(parsed: container.Container, modality: Modality, meta: dict[str, Any]):
    """The file's architecture and its codec, checked against the signal in the header."""
    arch = read_arch(parsed.model)
    codec = codec_for(arch.name, modality, FormatError)
    codec.check_arch(arch, modality, meta)
    return arch, codec


def decoded_path(source: str | os.PathLike) -> Path:
    """Where a decoded file goes when no name is given: beside the .inrc, named after it plus
    ``.decoded`` (``photo.inrc`` -> ``photo.decoded.png``), so never the original's own name."""
    source = Path(source)
    with _naming(source):
        modality, _ = read_signal_chunk(container.unpack(_read_blob(source)).signal)
    return source.with_name(f"{source.stem}.decoded{modality.default_suffix}")


def decode_integers(source: bytes | str | os.PathLike) -> list[np.ndarray]:
    """The integer tensors of a file, exactly as parsed (identical on every machine)."""
    with _naming(source):
        return _decode_integers(_read_blob(source))


def _decode_integers(blob: bytes) -> list[np.ndarray]:
    parsed = container.unpack(blob)
    modality, meta = read_signal_chunk(parsed.signal)
    if parsed.segments is not None:
        return [q for inner in inner_files(parsed, modality, meta) for q in _decode_integers(inner)]
    arch, codec = _architecture(parsed, modality, meta)
    return codec.integers(parsed, modality, meta, arch)


def info(source: bytes | str | os.PathLike) -> dict[str, Any]:
    """The file's header as a JSON-ready dict: version, modality, architecture, tensors, sizes."""
    with _naming(source):
        return _info(_read_blob(source))


def _info(blob: bytes) -> dict[str, Any]:
    parsed = container.unpack(blob)
    modality, meta = read_signal_chunk(parsed.signal)
    if parsed.segments is not None:
        segments = [_info(inner) for inner in inner_files(parsed, modality, meta)]
        content = {"parameters": sum(s["parameters"] for s in segments),
                   "segments": [{k: s[k] for k in ("signal", "architecture", "parameters", "macs_per_sample", "bytes")}
                                for s in segments]}
    else:
        arch, codec = _architecture(parsed, modality, meta)
        content = {"architecture": {"name": arch.name, **dataclasses.asdict(arch)},
                   **codec.describe(parsed, modality, meta, arch)}
    return {
        "format_version": "%d.%d" % parsed.version,
        "modality": modality.name,
        "signal": meta,
        **content,
        "bytes": {"total": len(blob), **parsed.chunk_sizes(), "framing": len(blob) - sum(parsed.chunk_sizes().values())},
        "rate": modality.rate(len(blob), meta),
        "crc32": f"{int.from_bytes(blob[-4:], 'little'):08x}",
    }


def write_encoded(report: EncodeReport, path: Path, *, force: bool, source: Path | None = None) -> None:
    """Write an encoded file atomically, never over the input and never over a file without force."""
    check_output(path, force=force, inputs=(source,) if source else ())
    with atomic_path(path) as tmp:
        tmp.write_bytes(report.blob)
