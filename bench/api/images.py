"""The one image-decoding path every adapter shares: any file -> 8-bit RGB, upright, transparency onto white.

Samples beyond 8 bits are scaled to 8 bits by the range their type can hold, never clipped:
16-bit integers by 65535, 32-bit unsigned integers by 2**32 - 1, signed integers by their largest
positive value (negative values are black), floating-point samples as intensities from 0 to 1
(the convention of float image files; NaN is black). A photo's EXIF orientation is applied, so a
phone picture stored sideways is read the way it was taken. An image claiming more pixels than
PIL's decompression-bomb limit is an unreadable image like any other (skipped and counted, or
refused with ``--strict``).
"""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from bench.api.errors import BenchError

INTEGER_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")
"""PIL's greyscale modes of more than 8 bits per integer sample."""

_RAW_INTEGER = re.compile(r"I;(?P<bits>8|16|32)[BLN]?(?P<signed>S?)$")  # PIL's raw modes: I;16B, I;32S


def _integer_format(image: Image.Image, raw_mode: str | None) -> tuple[int, bool]:
    """(bits, signed) of the samples of an integer-mode image, from the raw mode its decoder read
    (``I;32N``: unsigned 32-bit, ``I;16S``: signed 16-bit); a plain ``I`` is signed 32-bit."""
    if image.mode.startswith("I;16"):
        return 16, False
    found = _RAW_INTEGER.match(raw_mode or "")
    if found is None:
        return 32, True
    return int(found["bits"]), bool(found["signed"])


def _raw_mode(image: Image.Image) -> str | None:
    """The raw mode of the image's first tile (how the file stores its samples), before decoding."""
    if not image.tile:
        return None
    args = image.tile[0].args
    raw = args[0] if isinstance(args, tuple) and args else args
    return raw if isinstance(raw, str) else None


def _to_8bit(image: Image.Image, raw_mode: str | None) -> Image.Image:
    """An integer (``I``, ``I;16*``) or float (``F``) greyscale image as 8-bit ``L``, scaled by the
    range its samples can hold (see the module docstring) and rounded."""
    import numpy as np

    values = np.asarray(image)
    if image.mode == "F":
        fraction = np.nan_to_num(values.astype(np.float64), nan=0.0)
    else:
        bits, signed = _integer_format(image, raw_mode)
        if bits == 32 and not signed:
            values = values.view(np.uint32)  # PIL keeps unsigned 32-bit samples in int32 storage
        top = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
        fraction = values.astype(np.float64) / top
    return Image.fromarray(np.rint(np.clip(fraction, 0.0, 1.0) * 255.0).astype(np.uint8), "L")


def load_rgb(path: Path) -> Image.Image:
    """Decode ``path`` to an 8-bit RGB image, turned upright by its EXIF orientation; transparent
    pixels become white (sketch PNGs use alpha).

    Raises:
        BenchError: the file is missing, not a readable image, or too large to decode safely (the
            message names it).
    """
    try:
        with Image.open(path) as opened:
            raw_mode = _raw_mode(opened)
            opened.load()
            image = ImageOps.exif_transpose(opened)
            if image.mode in (*INTEGER_MODES, "F"):
                return _to_8bit(image, raw_mode).convert("RGB")
            has_alpha = image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info
            )
            if not has_alpha:
                return image.convert("RGB")
            rgba = image.convert("RGBA")
    except Image.DecompressionBombError as exc:
        raise BenchError(
            f"Could not read image {str(path)!r}: it claims more pixels than can be decoded safely ({exc})",
            "Replace or remove the file.",
        ) from exc
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise BenchError(f"Could not read image {str(path)!r}: {exc}", "Replace or remove the file.") from exc
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
