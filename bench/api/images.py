"""The one image-decoding path every adapter shares: any file -> 8-bit RGB, transparency onto white.

High bit-depth images (16-bit and 32-bit integer greyscale, as PNG and TIFF store them) are scaled
to 8 bits, not clipped; an image claiming more pixels than PIL's decompression-bomb limit is an
unreadable image like any other (skipped and counted, or refused with ``--strict``).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from bench.api.errors import BenchError

HIGH_BIT_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def _to_8bit(image: Image.Image) -> Image.Image:
    """A 16-bit (or 32-bit integer) greyscale image as 8-bit ``L``: values scaled by the range their
    mode can hold (65535 for 16-bit data), rounded."""
    import numpy as np

    values = np.asarray(image, dtype=np.float64)
    top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
    return Image.fromarray(np.clip(np.rint(values / top * 255.0), 0, 255).astype(np.uint8), "L")


def load_rgb(path: Path) -> Image.Image:
    """Decode ``path`` to an 8-bit RGB image; transparent pixels become white (sketch PNGs use alpha).

    Raises:
        BenchError: the file is missing, not a readable image, or too large to decode safely (the
            message names it).
    """
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in HIGH_BIT_DEPTH_MODES:
                return _to_8bit(image).convert("RGB")
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
