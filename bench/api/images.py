"""The one image-decoding path every adapter shares: any file -> RGB, transparency onto white."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from bench.api.errors import BenchError


def load_rgb(path: Path) -> Image.Image:
    """Decode ``path`` to an RGB image; transparent pixels become white (sketch PNGs use alpha).

    Raises:
        BenchError: the file is missing or not a readable image (the message names it).
    """
    try:
        with Image.open(path) as image:
            image.load()
            has_alpha = image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info
            )
            if not has_alpha:
                return image.convert("RGB")
            rgba = image.convert("RGBA")
    except (OSError, UnidentifiedImageError) as exc:
        raise BenchError(f"Could not read image {str(path)!r}: {exc}", "Replace or remove the file.") from exc
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
