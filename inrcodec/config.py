"""Codec configuration: frozen dataclasses, strict YAML loading, dotted overrides.

Precedence: built-in defaults of the modality < YAML file < ``section.key=value`` overrides.
Unknown sections or keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from inrcodec.errors import ConfigError
from inrcodec.inr import ArchConfig, config_from_dict


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Optimiser settings. ``batch_size = 0`` fits on all coordinates at every step."""

    steps: int = 2000
    lr: float = 1e-2
    warmup: int = 50
    final_lr_fraction: float = 0.05
    batch_size: int = 0
    steps_per_call: int = 100
    qat_fraction: float = 0.15
    qat_lr_fraction: float = 0.1
    # Feature grids are trained at this fixed quantization step code (step = 2^(code/8)) with
    # a rate term; lmbda is its starting weight (MSE per bit per sample), moved by a controller
    # toward the rate target when there is one.
    grid_step_code: int = -32
    lmbda: float = 1e-3
    # Samples one network fits at most (0: no limit); longer signals are coded in segments
    # along time (inrcodec/segments.py), which bounds the encoder's memory.
    max_samples: int = 0
    # Audio: how far the loss follows the ear's tolerance of noise under loud sound: each
    # sample's squared error is divided by the local power to this exponent (0: plain squared
    # error, 1: error relative to the signal's level); see Audio.loss_weights.
    loudness_weighting: float = 0.0


@dataclasses.dataclass(frozen=True)
class LatentConfig:
    """Encoder settings of the latent-grid codec; docs/latent-grid-codec.md gives the
    measurements behind each default. They move fits, never the file format."""

    # Budget split: first guess of a network weight's coded size; the latents aim at
    # ``latent_share`` of what the estimated networks leave; networks take at most
    # ``network_share`` of the budget, and a synthesis twice as wide is used where it takes at
    # most ``wide_synthesis_share``.
    network_bits_per_param: float = 6.0
    latent_share: float = 0.92
    network_share: float = 1.0 / 3.0
    wide_synthesis_share: float = 0.2
    # The first rate weight for a target: ``lambda_at_reference`` gives ``reference_bpp`` of
    # latents, and the rate goes as lambda^-rate_exponent.
    lambda_at_reference: float = 1e-3
    reference_bpp: float = 0.44
    rate_exponent: float = 0.6
    # The rate controller: steers from this fraction of the steps on, by the rate one call
    # ahead on its trend; lambda rises by at most ``controller_max_rise`` and falls by at most
    # ``controller_max_fall`` per call (an overshoot costs more than an undershoot).
    control_start: float = 0.1
    controller_gain: float = 1.0
    controller_lookahead: float = 1.0
    controller_max_rise: float = 1.5
    controller_max_fall: float = 1.2
    # The latents' learning rate relative to the networks'.
    latent_lr_fraction: float = 0.5
    # Noisy phase: soft-rounding temperature and Kumaraswamy noise shape, annealed linearly
    # from the first value to the second (C3, Kim et al. 2024).
    soft_round_start: float = 0.5
    soft_round_end: float = 0.05
    noise_shape_start: float = 2.0
    noise_shape_end: float = 1.0


@dataclasses.dataclass(frozen=True)
class VideoConfig:
    """Encoder settings of the frame-by-frame video codec (architecture ``motionvideo``,
    docs/video.md); they move fits, never the file format."""

    # Frames from one I frame to the next (the first frame is always one).
    gop: int = 64
    # An I frame aims at this share of its GOP's bits, and is fitted for ``intra_steps``.
    intra_share: float = 0.3
    intra_steps: int = 2000
    # Motion: full search of +-motion_search pixels, then gradient refinement, on blocks of
    # each power of two from motion_block_min to motion_block_max pixels; a frame keeps the
    # size whose prediction costs least in error plus lambda times bits.
    motion_block_min: int = 16
    motion_block_max: int = 32
    motion_search: int = 8
    motion_refine_steps: int = 200
    motion_smoothness: float = 1e-5
    # Residual fits: the first P frame fits the shared networks with its latents; later ones
    # fit only their latents.
    first_residual_steps: int = 600
    residual_steps: int = 300
    # With a target, the residual synthesis is twice as wide where its networks (estimated at
    # latent.network_bits_per_param) take at most this share of the clip's bits: it codes
    # residuals for fewer bits, which pays where P frames carry many of them.
    wide_synthesis_share: float = 0.03
    # The P frames' rate weight without a target: twice the I frames' (fit.lmbda), as in
    # H.264's usual offset. With a target it starts at p_lambda_factor times the first I
    # frame's squared error per bpp (its slope if quality grows 5 dB per doubling of rate,
    # times two), and a controller moves it toward the rate left.
    lmbda: float = 2e-3
    p_lambda_factor: float = 3.3


@dataclasses.dataclass(frozen=True)
class AudioConfig:
    """Audio's noise fill (inrcodec/codecs/noise_fill.py): above ``cutoff_hz`` the file keeps
    only band energies and the decoder fills those bands with noise. ``cutoff_hz`` 0 chooses
    by the rate per channel (``NOISE_CUTOFFS``), a negative value codes the whole band. Bands
    are ``noise_band_erbs`` wide, levels ``noise_step_db`` apart, one per ``noise_frames`` frames
    of about 32 ms overlapping by half (0: by the rate per channel, ``NOISE_FRAMES``)."""

    cutoff_hz: float = 0.0
    noise_band_erbs: float = 1.0
    noise_step_db: float = 3.0
    noise_frames: int = 0
    # Band gains (inrcodec/codecs/band_gains.py): below the cutoff, each band of about
    # ``gain_band_erbs`` ERBs of each frame is brought to the original's energy, in steps of
    # ``gain_step_db`` dB (0: no gains).
    gain_step_db: float = 6.0
    gain_band_erbs: float = 1.0


# (kbit/s per channel, cutoff Hz): the noise fill's cutoff for a rate up to that many kbit/s;
# above the last, the whole band is coded. Measured with ViSQOL (docs/results/audio.md): on
# speech at 32 and 64 kbit/s a 4 kHz cutoff scored 0.1 and 0.6 MOS above 5.5 kHz, and on music
# at 16 kbit/s the two scored alike.
NOISE_CUTOFFS = ((96.0, 4000.0),)
# (kbit/s per channel, frames per noise level) for a rate up to that many kbit/s; above the
# last, one level per frame. On stereo speech at 8 kbit/s a channel, a level per two frames
# scored 2.29 against 2.05 (half the noise chunk's bits go to the network); at 16 kbit/s a
# channel the two were within 0.1 either way.
NOISE_FRAMES = ((12.0, 2),)


@dataclasses.dataclass(frozen=True)
class QuantConfig:
    """``slope_db``: dB of quality the codec gains per doubling of its rate; it sets the
    trade-off of the step search (minimise -PSNR + slope_db * log2(bits))."""

    slope_db: float = 5.0


@dataclasses.dataclass(frozen=True)
class RateConfig:
    """``target``: rate target in the modality's unit (bpp, kbit/s; 0 = size the network as
    the arch section says). ``bits_per_param`` is the first guess used to size the network
    for a target; later attempts use the measured value."""

    target: float = 0.0
    bits_per_param: float = 5.0
    max_attempts: int = 2


@dataclasses.dataclass(frozen=True)
class CodecConfig:
    arch: ArchConfig
    fit: FitConfig
    quant: QuantConfig
    rate: RateConfig
    latent: LatentConfig = LatentConfig()
    video: VideoConfig = VideoConfig()
    audio: AudioConfig = AudioConfig()
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        arch = {"name": self.arch.name, **dataclasses.asdict(self.arch)}
        return {
            "arch": arch,
            "fit": dataclasses.asdict(self.fit),
            "quant": dataclasses.asdict(self.quant),
            "rate": dataclasses.asdict(self.rate),
            "latent": dataclasses.asdict(self.latent),
            "video": dataclasses.asdict(self.video),
            "audio": dataclasses.asdict(self.audio),
            "seed": self.seed,
        }


DEFAULTS: dict[str, dict[str, Any]] = {
    # The latent-grid codec (configs/image/latentgrid-cpu.yaml): on the 24 Kodak crops it needs
    # far fewer bits than the hash grid for the same PSNR (docs/results/image.md). The hash-grid
    # presets in configs/image/ state their own steps.
    "image": {
        "arch": {"name": "latentgrid", "levels": 7, "latent_step_bits": 4, "context_rows": 2, "context_cols": 2,
                 "arm_width": 12, "arm_depth": 2, "synth_width": 16, "synth_depth": 1, "convs": 2},
        "fit": {"steps": 2000, "lr": 0.03, "batch_size": 0},
        "rate": {"target": 0.0, "bits_per_param": 1.0, "max_attempts": 1},
    },
    # Measured on LibriSpeech speech (configs/audio/hashgrid.yaml says what and how). A batch of
    # 2^18 samples bounds memory; shorter clips (6 s at 44.1 kHz) are fitted whole at every step.
    "audio": {
        "arch": {"name": "hashgrid", "levels": 12, "features": 1, "table_size": 4096, "base_res": 16,
                 "mlp_width": 32, "mlp_depth": 1},
        "fit": {"steps": 1000, "lr": 0.03, "batch_size": 262144, "steps_per_call": 50},
        "rate": {"target": 0.0, "bits_per_param": 1.0, "max_attempts": 1},
    },
    # Frame by frame (docs/video.md): I frames by the image codec, P frames by motion and a
    # residual whose small synthesis and ARM every P frame shares. The whole-clip hash grid
    # of earlier versions is configs/video/hashgrid-cpu.yaml.
    "video": {
        "arch": {"name": "motionvideo", "levels": 7, "latent_step_bits": 4, "context_rows": 2, "context_cols": 2,
                 "arm_width": 8, "arm_depth": 1, "synth_width": 8, "synth_depth": 1, "convs": 1},
        "fit": {"lr": 0.03, "batch_size": 0, "steps_per_call": 50},
    },
    # The octree's occupancy network learns from parents' child masks, in batches of 4096
    # parents; depth 10 is the MPEG 1024-cell grid over the longest side.
    "pointcloud": {
        "arch": {"name": "pointfields", "depth": 10, "context_width": 16, "context_depth": 2},
        "fit": {"steps": 1500, "lr": 0.01, "batch_size": 4096},
    },
}

_SECTIONS = {"fit": FitConfig, "quant": QuantConfig, "rate": RateConfig, "latent": LatentConfig, "video": VideoConfig,
             "audio": AudioConfig}


def load(modality: str, path: Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> CodecConfig:
    """The configuration for ``modality``: defaults, then the YAML file, then overrides."""
    tree = _deep_copy(DEFAULTS.get(modality, {}))
    if path is not None:
        _merge(tree, _read_yaml(Path(path)), source=str(path))
    for item in overrides:
        _merge(tree, _parse_override(item), source=f"override {item!r}")
    return _build(tree)


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of sections")
    data.pop("description", None)  # free text for people reading the preset
    return data


def _parse_override(item: str) -> dict[str, Any]:
    import yaml

    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {item!r} must look like section.key=value")
    parts = key.strip().split(".")
    node: dict[str, Any] = {}
    root = node
    for part in parts[:-1]:
        node[part] = {}
        node = node[part]
    node[parts[-1]] = yaml.safe_load(value)
    return root


def _merge(tree: dict[str, Any], update: dict[str, Any], source: str) -> None:
    for key, value in update.items():
        if key == "seed":
            tree["seed"] = value
        elif key == "arch":
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: 'arch' must be a mapping")
            if "name" in value and value["name"] != tree.get("arch", {}).get("name"):
                tree["arch"] = {}  # another architecture: start from its own defaults
            tree.setdefault("arch", {}).update(value)
        elif key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: section {key!r} must be a mapping")
            tree.setdefault(key, {}).update(value)
        else:
            raise ConfigError(f"{source}: unknown section {key!r}; known: arch, fit, quant, rate, latent, video, audio, seed")


def _build(tree: dict[str, Any]) -> CodecConfig:
    sections = {}
    for name, cls in _SECTIONS.items():
        values = tree.get(name, {})
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(f"unknown key(s) in section {name!r}: {', '.join(unknown)}")
        try:
            typed = {k: _coerce(v, fields[k].type, f"{name}.{k}") for k, v in values.items()}
        except (TypeError, ValueError) as exc:
            raise ConfigError(str(exc)) from None
        sections[name] = cls(**typed)
    arch = config_from_dict(tree.get("arch", {"name": "hashgrid"}))
    try:
        seed = int(tree.get("seed", 0))
    except (TypeError, ValueError):
        raise ConfigError(f"seed must be an integer, got {tree.get('seed')!r}") from None
    config = CodecConfig(arch=arch, seed=seed, **sections)
    validate(config)
    return config


def _coerce(value: Any, type_name: Any, key: str) -> Any:
    type_name = getattr(type_name, "__name__", type_name)
    if type_name not in ("int", "float"):
        return value
    try:
        number = None if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = None
    if type_name == "int":
        if number is None or not number.is_integer():
            raise ValueError(f"{key} must be an integer, got {value!r}")
        return int(number)
    if number is None:
        raise ValueError(f"{key} must be a number, got {value!r}")
    return number


def validate(config: CodecConfig) -> None:
    """Reject settings no fit can run with, naming the offending key."""
    fit, rate = config.fit, config.rate
    checks = [
        (1 <= fit.steps <= 10_000_000, f"fit.steps must be a positive integer, got {fit.steps}"),
        (0 < fit.lr < 10, f"fit.lr must be in (0, 10), got {fit.lr}"),
        (fit.batch_size >= 0, f"fit.batch_size must be >= 0, got {fit.batch_size}"),
        (fit.steps_per_call >= 1, f"fit.steps_per_call must be >= 1, got {fit.steps_per_call}"),
        (0 <= fit.qat_fraction < 1, f"fit.qat_fraction must be in [0, 1), got {fit.qat_fraction}"),
        (0 < fit.qat_lr_fraction <= 1, f"fit.qat_lr_fraction must be in (0, 1], got {fit.qat_lr_fraction}"),
        (0 < fit.lmbda <= 100, f"fit.lmbda must be in (0, 100], got {fit.lmbda}"),
        (0 <= fit.loudness_weighting <= 1, f"fit.loudness_weighting must be in [0, 1], got {fit.loudness_weighting}"),
        (config.audio.noise_band_erbs > 0, f"audio.noise_band_erbs must be positive, got {config.audio.noise_band_erbs}"),
        (0.5 <= config.audio.noise_step_db <= 127, f"audio.noise_step_db must be in [0.5, 127], got {config.audio.noise_step_db}"),
        (0 <= config.audio.noise_frames <= 64,
         f"audio.noise_frames must be 0 (by rate) or 1..64 frames per level, got {config.audio.noise_frames}"),
        (config.audio.gain_step_db == 0 or 0.5 <= config.audio.gain_step_db <= 127,
         f"audio.gain_step_db must be 0 (no gains) or in [0.5, 127], got {config.audio.gain_step_db}"),
        (config.audio.gain_band_erbs > 0, f"audio.gain_band_erbs must be positive, got {config.audio.gain_band_erbs}"),
        (fit.warmup >= 0, f"fit.warmup must be >= 0, got {fit.warmup}"),
        (0 <= fit.final_lr_fraction <= 1, f"fit.final_lr_fraction must be in [0, 1], got {fit.final_lr_fraction}"),
        (rate.target >= 0 and rate.target == rate.target, f"rate target must be positive, got {rate.target}"),
        (0.5 <= rate.bits_per_param <= 32, f"rate.bits_per_param must be in [0.5, 32], got {rate.bits_per_param}"),
        (1 <= rate.max_attempts <= 10, f"rate.max_attempts must be 1..10, got {rate.max_attempts}"),
        (0 <= config.quant.slope_db <= 100, f"quant.slope_db must be in [0, 100], got {config.quant.slope_db}"),
        (0 <= config.seed < 2**31, f"seed must be in [0, 2^31), got {config.seed}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def _deep_copy(tree: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in tree.items()}
