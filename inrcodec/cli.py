"""The ``inrcodec`` command line: parse, validate, call the API. Heavy imports happen lazily."""

from __future__ import annotations

import functools
import inspect
import json
import math
import sys
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import typer

from inrcodec.errors import InrcodecError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Compress images, audio, video and point clouds by overfitting a small neural network to each signal.",
    pretty_exceptions_enable=False,
)

UNSPENT = 0.95  # a file under this share of its rate target gets a note saying so

# Options that several commands share.
SetOption = Annotated[Optional[list[str]], typer.Option("--set", help="Override a config value: section.key=value.")]
# Flags take no value: an empty metavar keeps typer from showing a "<bool>" type beside them.
QuietOption = Annotated[bool, typer.Option("--quiet", help="No progress bar.", metavar="")]
ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite an existing output file.", metavar="")]
BenchOut = Annotated[Path, typer.Option("-o", "--out", help="Folder for records.jsonl, results.json, rd.png, summary.md.")]
BenchCodecs = Annotated[str, typer.Option(help="Baselines, comma-separated.")]
StepsPerFit = Annotated[Optional[int], typer.Option(help="Optimisation steps per fit.")]
BenchConfig = Annotated[Optional[Path], typer.Option(help="YAML preset of the codec under test.")]
BenchLabel = Annotated[str, typer.Option(help="Name of the codec under test in the results.")]
BenchJobs = Annotated[int, typer.Option(help="Parallel fit processes (one CPU thread each).")]


def _print_version(value: bool) -> None:
    if value:
        from inrcodec import __version__

        typer.echo(f"inrcodec {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True, metavar="",
                                          help="Print the version and exit.")] = False,
) -> None:
    """Compress images, audio, video and point clouds by overfitting a small neural network to each signal."""


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"inrcodec: error: {message}", err=True)
    raise typer.Exit(code)


def user_errors(fn):
    """Turn InrcodecError into one line on stderr and exit code 1 (2 for a bad option value)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InrcodecError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted; no output written", 130)

    return wrapper


def _require(module: str, extra: str, what: str) -> None:
    """One line naming the extra to install when an optional dependency is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        _fail(f"{what} needs {module}, which is not installed: pip install 'inrcodec[{extra}]'")


def _positive(name: str, value: Optional[float]) -> None:
    if value is not None and not (value > 0 and math.isfinite(value)):
        _fail(f"--{name} must be a positive number, got {value}", 2)


def _check_fit_options(bpp: Optional[float], kbps: Optional[float], steps: Optional[int]) -> None:
    """Rate targets and step counts that fit and batch share."""
    _positive("bpp", bpp)
    _positive("kbps", kbps)
    if steps is not None and steps < 1:
        _fail(f"--steps must be a positive integer, got {steps}", 2)


@app.command()
@user_errors
def fit(
    input: Annotated[Path, typer.Argument(help="Signal file (image: PNG/JPEG/TIFF/...; audio: WAV/FLAC/OGG; video: MP4/MKV/Y4M/...; point cloud: PLY).")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Output .inrc (default: beside the input).")] = None,
    bpp: Annotated[Optional[float], typer.Option(help="Rate target in bits per pixel (point clouds: bits per input point): the whole file stays within it.")] = None,
    kbps: Annotated[Optional[float], typer.Option(help="Audio rate target in kbit/s (8 x file bytes / duration).")] = None,
    depth: Annotated[Optional[int], typer.Option(help="Point clouds: voxel grid of 2^DEPTH cells per axis (with --bpp, the deepest tried).")] = None,
    lmbda: Annotated[Optional[float], typer.Option(help="Without a rate target: the rate weight (MSE per bit per sample) of grid and latent-grid fits; higher is smaller.")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML preset, e.g. configs/image/hashgrid-cpu.yaml.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="Optimisation steps (overrides the preset).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed; the same seed gives the same file.")] = None,
    set_: SetOption = None,
    force: ForceOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.", metavar="")] = False,
    quiet: QuietOption = False,
) -> None:
    """Fit a network to INPUT and write the compressed .inrc file."""
    _check_fit_options(bpp, kbps, steps)
    if depth is not None and not 1 <= depth <= 16:
        _fail(f"--depth must be 1..16, got {depth}", 2)
    if lmbda is not None and not (0 < lmbda <= 100 and (bpp, kbps) == (None, None)):
        _fail(f"--lmbda must be in (0, 100] and without --bpp/--kbps (a target sets it), got {lmbda}", 2)
    from inrcodec import api, files
    from inrcodec.modalities import modality_for_path

    modality = modality_for_path(input)  # unsupported types fail before any work
    target = _rate_target(modality.rate_unit, bpp=bpp, kbps=kbps)
    output = output or input.with_suffix(".inrc")
    files.check_output(output, force=force, inputs=(input,))
    if depth is not None and modality.name != "pointcloud":
        _fail("--depth applies to point clouds only", 2)
    signal = api.load(input)
    for name in signal.meta.get("ignored_properties", ()):
        typer.echo(f"note: {input}: vertex property {name!r} is not coded", err=True)
    for name in signal.meta.get("ignored_elements", ()):
        typer.echo(f"note: {input}: the PLY's {name} elements are not coded, only its vertices", err=True)
    set_ = list(set_ or ()) + ([f"arch.depth={depth}"] if depth is not None else []) + \
        ([f"fit.lmbda={lmbda}"] if lmbda is not None else [])
    config_opts = dict(target=target, config=config, steps=steps, seed=seed, overrides=tuple(set_ or ()))
    api.make_config(signal.modality, **config_opts)  # a bad preset fails before the fit, not after
    with _progress(quiet or as_json) as progress:
        report = api.encode_report(signal, bpp=bpp, kbps=kbps, config=config, steps=steps, seed=seed,
                                   overrides=tuple(set_ or ()), progress=progress)
    api.write_encoded(report, output, force=force, source=input)
    summary = {"input": str(input), "output": str(output), **report.summary()}
    if as_json:
        from inrcodec.metrics import json_ready

        typer.echo(json.dumps(json_ready(summary), indent=2, allow_nan=False))
    else:
        units = {"bpp": "bits/point"} if signal.modality == "pointcloud" else {}
        rates = ", ".join(f"{v:.4f} {units.get(k, k)}" for k, v in report.rate.items())
        quality = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in report.metrics.items())
        typer.echo(f"{output}: {_extent(signal)}{len(report.blob)} bytes, {rates}, {quality}, "
                   f"fit {report.fit_seconds:.1f} s")
        used = report.rate.get(modality.rate_unit)
        if target and used < UNSPENT * target and report.arch["name"] != "stored":  # stored: exact already
            typer.echo(f"note: {used:.3g} of the {target:g} {units.get(modality.rate_unit, modality.rate_unit)} "
                       "allowed is used: the fit found nothing worth the rest at these settings "
                       "(more --steps or a larger preset may spend it)")


def _rate_target(unit: str, **targets: Optional[float]) -> Optional[float]:
    """The one rate target given, which must be in the modality's own unit."""
    given = {name: value for name, value in targets.items() if value is not None}
    wrong = sorted(set(given) - {unit})
    if wrong:
        _fail(f"--{wrong[0]} does not apply to this input; its rate target is --{unit}", 2)
    return given.get(unit)


def _describe(signal) -> str:
    """A decoded signal in a user's terms: width x height, duration, points."""
    meta = signal.meta
    if signal.modality == "image":
        return f"image {meta['width']}x{meta['height']}, {meta['channels']} channel(s), {meta['bits']}-bit"
    if signal.modality == "video":
        return f"video {meta['width']}x{meta['height']}, {meta['frames']} frames at {meta['fps_num'] / meta['fps_den']:.3g} fps"
    if signal.modality == "audio":
        return f"audio {meta['frames'] / meta['sample_rate']:.2f} s, {meta['channels']} channel(s), {meta['sample_rate']} Hz"
    return f"point cloud, {len(signal.data)} points"


def _extent(signal) -> str:
    """How long a time signal is, or how many points a cloud has: a prefix of the summary line."""
    if signal.modality == "pointcloud":
        return f"{len(signal.data)} points, "
    if signal.modality == "video":
        return f"{signal.meta['frames']} frames, "
    if signal.sample_rate is None:
        return ""
    return f"{signal.data.shape[0] / signal.sample_rate:.2f} s, "


@app.command()
@user_errors
def decode(
    input: Annotated[Path, typer.Argument(help="A .inrc file.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Output signal file (default: NAME.decoded.EXT beside the input).")] = None,
    scale: Annotated[float, typer.Option(help="Render at this multiple of the original resolution.")] = 1.0,
    fps_scale: Annotated[float, typer.Option(help="Video: render this multiple of the frame rate (2 adds a frame between each two).")] = 1.0,
    force: ForceOption = False,
) -> None:
    """Rebuild the signal from a .inrc file (video: .mkv/.avi lossless, .y4m, .mp4/.mov/.webm, or a new folder of PNGs)."""
    _positive("scale", scale)
    _positive("fps-scale", fps_scale)
    from inrcodec import api, files

    output = output or api.decoded_path(input)
    files.check_output(output, force=force, inputs=(input,), coded_from=input)  # before the work, not after it
    signal = api.decode(input, scale=scale, fps_scale=fps_scale)
    api.save(signal, output, force=force)
    typer.echo(f"{output}: {_describe(signal)}")


@app.command()
@user_errors
def info(input: Annotated[Path, typer.Argument(help="A .inrc file.")]) -> None:
    """Print the header of a .inrc file as JSON."""
    from inrcodec import api

    typer.echo(json.dumps(api.info(input), indent=2))


@app.command()
@user_errors
def batch(
    input: Annotated[Path, typer.Argument(
        help="A folder of signals (searched recursively) or a manifest (.txt): one path per line, options after it.")],
    out: Annotated[Path, typer.Option(
        "-o", "--out", help="Output folder: .inrc files mirror the inputs; results.jsonl lists them.")],
    address: Annotated[Optional[str], typer.Option(
        help="Ray cluster: 'auto', 'ray://host:10001'; default: a local Ray for this run.")] = None,
    bpp: Annotated[Optional[float], typer.Option(help="Rate target of every image and video (bits per pixel) and point cloud (bits per point).")] = None,
    kbps: Annotated[Optional[float], typer.Option(help="Rate target of every audio clip, kbit/s.")] = None,
    config: Annotated[Optional[Path], typer.Option(help="YAML preset for every signal.")] = None,
    steps: StepsPerFit = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed of every fit.")] = None,
    set_: SetOption = None,
    cpus_per_job: Annotated[float, typer.Option(help="CPU cores per fit job.")] = 1.0,
    gpus_per_job: Annotated[float, typer.Option(help="GPUs per fit job; 0.25 shares each GPU among four jobs.")] = 0.0,
    num_cpus: Annotated[Optional[int], typer.Option(help="Cores the local Ray may use (default: all).")] = None,
    retries: Annotated[int, typer.Option(help="Resubmissions of a job whose worker died.")] = 2,
    pack: Annotated[int, typer.Option(
        help="Signals per job; same-shaped ones are fitted together in one jitted program (many small signals).")] = 1,
    quiet: QuietOption = False,
) -> None:
    """Compress every signal of a folder or manifest on Ray, one fit job per signal.

    Rerunning the command skips finished outputs and redoes the rest."""
    _check_fit_options(bpp, kbps, steps)
    _require("ray", "batch", "inrcodec batch")
    from inrcodec import api
    from pipelines.batch.inputs import collect, unsupported_files
    from pipelines.batch.job import FAILED
    from pipelines.batch.run import check_options, summary_lines, timed_run

    check_options(retries, cpus_per_job, gpus_per_job, pack)
    items = collect(input, out)
    options = {"bpp": bpp, "kbps": kbps, "config": str(config) if config else None, "steps": steps, "seed": seed,
               "overrides": list(set_ or ())}
    for modality in _modalities_of(items):  # a bad preset or option fails before the cluster starts
        api.make_config(modality, config=config, steps=steps, seed=seed, overrides=tuple(set_ or ()))
    records, seconds = timed_run(items, out, options=options, address=address, num_cpus=num_cpus,
                                 cpus_per_job=cpus_per_job, gpus_per_job=gpus_per_job, retries=retries, pack=pack,
                                 show_progress=not quiet and sys.stderr.isatty(), unsupported=unsupported_files(input))
    for line in summary_lines(records, seconds):
        typer.echo(line)
    if any(r["status"] == FAILED for r in records):
        raise typer.Exit(1)


def _modalities_of(items) -> set[str]:
    from inrcodec.modalities import modality_for_path

    modalities = set()
    for item in items:
        try:
            modalities.add(modality_for_path(item.source).name)
        except InrcodecError:  # reported per input by its job
            continue
    return modalities


bench_app = typer.Typer(help="Rate–distortion benchmarks against the codecs users would pick instead.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@dataclass(frozen=True)
class _Bench:
    """The command line of one ``inrcodec bench`` command; ``pipelines.bench.specs`` says how
    its modality is benchmarked."""

    name: str
    doc: str
    inputs_help: str
    codecs: str  # the default baselines
    targets: str  # the default rate points of the codec under test
    targets_help: str
    targets_option: str = "rates"
    # The command's own options, (name, type, default, help): a length or size where 0 means
    # none, or a text where "" means none.
    options: tuple[tuple[str, type, float | str, str], ...] = ()


_RESUMES = "\n\nFinished fits are cached in OUT/records.jsonl: rerunning the command resumes."
_BENCHES = (
    _Bench(
        name="image",
        doc="Code images with inrcodec and the baselines; write RD curves, BD-rates and a plot." + _RESUMES,
        inputs_help="Image files or folders of images.",
        codecs="jpeg,jpeg-opt,webp,avif,jpeg2000,jpegxl",
        targets="0.25,0.5,1,2",
        targets_help="Target bpp of the codec under test, comma-separated; empty: baselines only.",
        options=(("crop", int, 256, "Centre crop side in pixels; 0 keeps whole images."),),
    ),
    _Bench(
        name="audio",
        doc="Code audio clips with inrcodec and the baselines; write RD curves, BD-rates and a plot." + _RESUMES,
        inputs_help="Audio files (WAV/FLAC/OGG) or folders of them.",
        codecs="mp3,opus",
        targets="8,16,32,64",
        targets_help="Target kbit/s of the codec under test, comma-separated; empty: baselines only.",
        options=(("seconds", float, 0.0, "Centre excerpt length in seconds; 0 keeps whole clips."),
                 ("speech", str, "", "File name patterns (comma-separated globs, e.g. 'cmu*,*speech*') scored in "
                                     "ViSQOL's speech mode; the others in its audio mode. Empty: clips sampled at "
                                     "16 kHz or less are speech.")),
    ),
    _Bench(
        name="pointcloud",
        doc="Code point clouds with inrcodec (a depth sweep) and Draco (a quantization sweep); write RD\n"
            "curves on D1 and D2 PSNR, BD-rates and plots." + _RESUMES,
        inputs_help="PLY files or folders of them.",
        codecs="draco",
        targets="6,7,8,9,10",
        targets_help="Octree depths of the codec under test, comma-separated; empty: baselines only.",
        targets_option="depths",
    ),
    _Bench(
        name="video",
        doc="Code video clips with inrcodec and x264 / x265 / AV1 (CRF sweeps); write RD curves, BD-rates and a plot."
            + _RESUMES,
        inputs_help="Video files (Y4M/MP4/MKV/...) or folders of them.",
        codecs="x264,x265,av1",
        targets="0.02,0.04,0.08,0.16",
        targets_help="Target bpp of the codec under test, comma-separated; empty: baselines only.",
    ),
)


def _add_bench_command(bench: _Bench) -> None:
    """Register ``inrcodec bench NAME``: the options every benchmark has, and the command's own."""

    def command(*, inputs: list[Path], out: Path, codecs: str, steps: Optional[int], config: Optional[Path],
                set_: Optional[list[str]], label: str, jobs: int, **own) -> None:
        rates = own.pop(bench.targets_option)
        for name, value in own.items():
            if not isinstance(value, str) and not value >= 0:
                _fail(f"--{name} must not be negative, got {value}", 2)
        targets = _bench_targets(inputs, rates, jobs, f"--{bench.targets_option}")
        _require("matplotlib", "bench", "inrcodec bench")
        if bench.name == "audio":
            _require("visqol", "bench", "the audio benchmark's MOS")
        if bench.name == "pointcloud" and "draco" in codecs.split(","):
            _require("DracoPy", "bench", "the Draco baseline")
        if bench.name == "image" and "jpegxl" in codecs.split(","):
            _require("imagecodecs", "bench", "the JPEG XL baseline")
        from pipelines.bench.run import run
        from pipelines.bench.specs import SPECS

        try:
            run(SPECS[bench.name], inputs, out, codecs=tuple(c for c in codecs.split(",") if c), targets=targets,
                steps=steps, config=str(config) if config else None, overrides=tuple(set_ or ()), label=label,
                jobs=jobs, argv=sys.argv, **{name: value or None for name, value in own.items()})
        except ValueError as exc:  # an unknown codec, rate points the codec cannot use, no input signals
            _fail(str(exc), 2)
        except BrokenProcessPool:
            _fail(f"a fit worker died (out of memory?); finished fits are kept in {out}, rerun the command to resume")

    def param(name: str, annotation, default=inspect.Parameter.empty) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)

    own_option = [param(option, Annotated[value_type, typer.Option(help=text)], default)
                  for option, value_type, default, text in bench.options]
    # typer reads the options from the signature, in this order.
    command.__signature__ = inspect.Signature([
        param("inputs", Annotated[list[Path], typer.Argument(help=bench.inputs_help)]),
        param("out", BenchOut, Path("results") / bench.name),
        *own_option,
        param("codecs", BenchCodecs, bench.codecs),
        param(bench.targets_option, Annotated[str, typer.Option(help=bench.targets_help)], bench.targets),
        param("steps", StepsPerFit, None),
        param("config", BenchConfig, None),
        param("set_", SetOption, None),
        param("label", BenchLabel, "inrcodec"),
        param("jobs", BenchJobs, 1),
    ])
    command.__doc__ = bench.doc
    command.__name__ = command.__qualname__ = f"bench_{bench.name}"
    bench_app.command(bench.name)(user_errors(command))


for _bench in _BENCHES:
    _add_bench_command(_bench)


def _bench_targets(inputs: list[Path], rates: str, jobs: int, option: str) -> tuple[float, ...]:
    """Check a bench command's inputs and options; the rate targets as numbers."""
    for path in inputs:
        if not path.exists():
            _fail(f"{path}: no such file or folder")
    try:
        targets = tuple(float(r) for r in rates.split(",") if r.strip())
    except ValueError:
        _fail(f"{option} must be comma-separated numbers, got {rates!r}", 2)
    if any(not t > 0 for t in targets) or jobs < 1:
        _fail(f"{option} must be positive and --jobs at least 1", 2)
    return targets


class _progress:
    """A rich progress bar fed by the encoder's progress callback."""

    def __init__(self, disabled: bool):
        self.disabled = disabled or not sys.stderr.isatty()
        self.bar = None
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        if self.disabled:
            return None
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("{task.description:>9}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                            TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                            transient=True)
        self.bar.__enter__()
        return self.update

    def update(self, phase: str, done: int, total: int, loss: float) -> None:
        if phase not in self.tasks:
            self.tasks[phase] = self.bar.add_task(phase, total=total, loss="")
        self.bar.update(self.tasks[phase], completed=done, total=total, loss=f"loss {loss:.2e}")

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def main() -> None:
    from inrcodec.compile_cache import configure_environment, release_programs

    configure_environment()
    # A command may encode many signals (batch, bench): release each encode's compiled programs,
    # here and in the worker processes it starts (they inherit the setting).
    release_programs()
    command = typer.main.get_command(app)
    try:
        code = command.main(sys.argv[1:], prog_name="inrcodec", standalone_mode=False)
    except Exception as exc:
        if not hasattr(exc, "format_message"):  # not the parser's: a bug, with its traceback
            raise
        # The parser's usage errors (a bad option value, a missing argument): one line, like every other error.
        typer.echo(f"inrcodec: error: {exc.format_message()}", err=True)
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
    raise SystemExit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
