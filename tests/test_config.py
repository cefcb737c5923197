from pathlib import Path

import pytest
import yaml

from inrcodec import config
from inrcodec.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PRESETS = sorted((CONFIGS / "image").glob("*.yaml"))
CODEC_PRESETS = sorted(p for p in CONFIGS.glob("*/*.yaml") if p.parent.name != "cluster")


@pytest.mark.parametrize("preset", CODEC_PRESETS, ids=[f"{p.parent.name}/{p.stem}" for p in CODEC_PRESETS])
def test_every_shipped_preset_loads_for_its_modality(preset):
    loaded = config.load(preset.parent.name, preset).to_dict()
    written = yaml.safe_load(preset.read_text())
    for section, values in written.items():  # every value the file sets is the loaded value
        if section == "description":
            assert isinstance(values, str) and values.strip()
        elif isinstance(values, dict):
            for key, value in values.items():
                assert loaded[section][key] == value, f"{section}.{key}"
        else:
            assert loaded[section] == values, section


def test_the_written_out_defaults_are_the_defaults():
    for modality, name in [("image", "latentgrid-cpu"), ("audio", "hashgrid"), ("pointcloud", "occupancy")]:
        assert config.load(modality, CONFIGS / modality / f"{name}.yaml") == config.load(modality), modality


def test_presets_exist_for_rate_points_and_budgets():
    names = {p.stem for p in PRESETS}
    assert {"hashgrid-cpu-low", "hashgrid-cpu-medium", "hashgrid-cpu-high", "hashgrid-gpu", "siren-cpu"} <= names


def test_overrides_take_precedence_and_switching_arch_starts_from_its_defaults():
    loaded = config.load("image", None, ["fit.steps=7", "arch.name=siren", "arch.width=12"])
    assert loaded.fit.steps == 7 and loaded.arch.name == "siren" and loaded.arch.width == 12
    assert loaded.arch.depth == 4


@pytest.mark.parametrize(
    "yaml_text,message",
    [
        ("fit:\n  stepz: 3\n", "stepz"),
        ("bogus:\n  a: 1\n", "unknown section"),
        ("arch:\n  name: hashgrid\n  levelz: 3\n", "levelz"),
        ("fit:\n  steps: 2.5\n", "integer"),
        ("fit: [1, 2]\n", "mapping"),
        ("arch:\n  name: nerf\n", "unknown architecture"),
    ],
)
def test_strict_loading_rejects_unknown_or_mistyped_keys(tmp_path, yaml_text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message):
        config.load("image", path)


def test_bad_override_syntax_and_values_are_rejected():
    with pytest.raises(ConfigError):
        config.load("image", None, ["fit.steps"])
    with pytest.raises(ConfigError, match="fit.steps"):
        config.load("image", None, ["fit.steps=0"])
    for override, key in [("audio.cutoff_hz=abc", "audio.cutoff_hz must be a number"),
                          ("fit.steps=1e9x", "fit.steps must be an integer"), ("fit.lr=[1]", "fit.lr must be a number")]:
        with pytest.raises(ConfigError, match=key):
            config.load("audio", None, [override])
