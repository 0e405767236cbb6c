"""``bench.load_rgb`` reads every sample format to its 8-bit grey levels, and photos upright.

The files are real: TIFFs and PNGs written by PIL from numpy arrays, and a JPEG carrying an EXIF
orientation tag, as a phone writes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import bench

ORIENTATION = 0x0112  # the EXIF tag
# the SampleFormat entry of a little-endian TIFF (tag 339, SHORT, 1 value): 2 = signed, 1 = unsigned
SIGNED_SAMPLES = bytes.fromhex("530103000100000002000000")
UNSIGNED_SAMPLES = bytes.fromhex("530103000100000001000000")


def _grey_levels(path: Path) -> np.ndarray:
    rgb = np.asarray(bench.load_rgb(path))
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 0] == rgb[..., 2]).all()
    return rgb[0, :, 0]


@pytest.mark.parametrize(
    ("name", "samples", "mode", "expected"),
    [
        ("8-bit.tif", np.array([[0, 128, 255]], np.uint8), "L", [0, 128, 255]),
        ("16-bit.tif", np.array([[0, 32768, 65535]], np.uint16), "I;16", [0, 128, 255]),
        ("16-bit.png", np.array([[0, 32768, 65535]], np.uint16), "I;16", [0, 128, 255]),
        ("32-bit.tif", np.array([[0, 2**30, 2**31 - 1, -7]], np.int32), "I", [0, 128, 255, 0]),
        ("float.tif", np.array([[0.0, 0.5, 1.0, 3.0, -1.0]], np.float32), "F", [0, 128, 255, 255, 0]),
    ],
)
def test_every_sample_format_is_scaled_to_8_bits(tmp_path, name, samples, mode, expected):
    path = tmp_path / name
    Image.fromarray(samples).save(path)
    assert Image.open(path).mode == mode
    assert _grey_levels(path).tolist() == expected


def test_an_unsigned_32_bit_tiff_uses_its_whole_range(tmp_path):
    """PIL writes 32-bit samples as signed; other writers (libtiff, tifffile) mark them unsigned,
    and PIL then keeps values above 2**31 in signed storage."""
    path = tmp_path / "unsigned.tif"
    Image.fromarray(np.array([[0, 2**30, -1]], np.int32)).save(path)
    data = path.read_bytes()
    assert data.count(SIGNED_SAMPLES) == 1
    path.write_bytes(data.replace(SIGNED_SAMPLES, UNSIGNED_SAMPLES))  # -1 now reads 2**32 - 1
    assert _grey_levels(path).tolist() == [0, 64, 255]


def test_a_jpeg_with_an_exif_orientation_is_read_upright(tmp_path):
    """Orientation 6 (a phone held upright): the stored picture's left edge is the top of the photo."""
    stored = Image.new("RGB", (64, 32), "blue")
    stored.paste((255, 0, 0), (0, 0, 32, 32))  # left half red
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    path = tmp_path / "phone.jpg"
    stored.save(path, exif=exif, quality=95)
    upright = bench.load_rgb(path)
    assert upright.size == (32, 64)
    top, bottom = np.asarray(upright)[8, 16], np.asarray(upright)[56, 16]
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60
