"""The names a run configuration chooses from, and how its settings are spelled on the command line.

Imported by the command line to build its options, so it imports nothing heavy (no pydantic);
the schemas of :mod:`bench.config` and :mod:`bench.results` use them too.
"""

from __future__ import annotations

SWEEP_AXES = ("backbone", "layer", "t", "prompt", "dataset", "probe")
TRAINING_AXES = ("train_fraction", "train_count")  # training settings (the train table) a study may vary
STUDY_AXES = (*SWEEP_AXES, "noise_samples", "pool", "image_size", "probe_dim", *TRAINING_AXES)
"""The settings an ablation study (a config's ``ablation`` table) may vary, one at a time."""
DTYPE_NAMES = ("fp32", "tf32", "fp16", "bf16")  # tf32: see bench.extraction.devices
CACHE_DTYPE_NAMES = ("fp16", "fp32")
ENSEMBLE_METHODS = ("mean", "concat", "score-sum")
DEVICE_PATTERN = r"^(auto|cpu|mps|cuda(:[0-9]{1,3})?)$"
CONFIG_FORMATS = {".toml": "TOML", ".yaml": "YAML", ".yml": "YAML"}  # config files: suffix -> format
REPORTED_SECTIONS = ("measured", "all", "none")
"""Which reported rows a leaderboard shows (``bench leaderboard --reported-sections``): those of
benchmarks its runs measured (the default), every one (sections of their own for benchmarks never
run), or none."""

# setting -> its command-line option, for the settings whose option is not --<setting with - for _>
IRREGULAR_OPTION_NAMES = {
    "dataset_options": "--dataset-option",
    "train": "--train-option",
    "plugins": "--plugin",
}


def option_name(setting: str) -> str:
    """The command-line option of a setting: ``batch_size`` -> ``--batch-size``."""
    return IRREGULAR_OPTION_NAMES.get(setting, "--" + setting.replace("_", "-"))
