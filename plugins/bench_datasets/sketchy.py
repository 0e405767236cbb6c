"""Sketchy: ``sketchy`` (Yelamarthi split), ``sketchy-ext`` (SAKE split), ``sketchy-fg`` (zero-shot FG)."""

from __future__ import annotations

from bench_datasets import expected_layouts
from bench_datasets.category import CategoryBenchmark, CategorySpec, Source, SplitDef
from bench_datasets.classnames import SKETCHY_SEMPCYC_SPELLINGS

SKETCHES = Source("256x256/sketch/tx_000000000000")
PHOTOS = Source("256x256/photo/tx_000000000000")
EXTENDED_PHOTOS = Source("EXTEND_image_sketchy")

YELAMARTHI = SplitDef(
    "yelamarthi",
    "sketchy_yelamarthi_unseen",
    "Yelamarthi et al. ECCV'18: 21 unseen classes; test lists of ZSE-SBIR (zeroshot0)",
    sketch_list="sketchy_yelamarthi_zs0_sketch_zero",
    photo_list="sketchy_yelamarthi_zs0_photo_zero",
)
SAKE = SplitDef(
    "sake",
    "sketchy_ext_sake_unseen",
    "SAKE ICCV'19 (zeroshot1): 25 unseen classes; its test lists",
    sketch_list="sketchy_ext_sake_zs1_sketch_zero",
    photo_list="sketchy_ext_sake_zs1_photo_zero",
)
SEMPCYC = SplitDef(
    "sempcyc",
    "sketchy_ext_sempcyc_seed0_unseen",
    "sem-pcyc class split (seed 0): 25 unseen classes reproduced from its code, unverified; no file list",
    spellings=SKETCHY_SEMPCYC_SPELLINGS,
)


def photo_id(sketch_name: str) -> str | None:
    """``"n02139199_11487-4.png"`` -> ``"n02139199_11487"``, the id of its photo (None for other names)."""
    stem = sketch_name.rsplit(".", 1)[0]
    photo, dash, number = stem.rpartition("-")
    return photo if dash and photo and number.isdigit() else None


SKETCHY = CategorySpec(
    id="sketchy",
    title="Sketchy (Yelamarthi split)",
    all_classes="sketchy_all125",
    splits=(YELAMARTHI,),
    sketches=SKETCHES,
    photos=(EXTENDED_PHOTOS, PHOTOS),
    gallery_rules=("unique", "listed"),
    expected_layout=expected_layouts.SKETCHY,
)
SKETCHY_EXT = CategorySpec(
    id="sketchy-ext",
    title="Sketchy-ext (SAKE split)",
    all_classes="sketchy_all125",
    splits=(SAKE, SEMPCYC),
    sketches=SKETCHES,
    photos=(EXTENDED_PHOTOS, PHOTOS),
    gallery_rules=("unique", "listed"),
    expected_layout=expected_layouts.SKETCHY,
)
SKETCHY_FG = CategorySpec(
    id="sketchy-fg",
    title="Sketchy zero-shot fine-grained (Yelamarthi classes)",
    all_classes="sketchy_all125",
    splits=(YELAMARTHI,),
    sketches=SKETCHES,
    photos=(PHOTOS,),
    expected_layout=expected_layouts.SKETCHY_FG,
    photo_id=photo_id,
)


class Sketchy(CategoryBenchmark):
    """ZS-SBIR on the 21 Yelamarthi classes; gallery: their extended photos (option ``gallery``)."""

    spec = SKETCHY


class SketchyExt(CategoryBenchmark):
    """ZS-SBIR on the 25 SAKE classes (option ``split``: ``sake`` or ``sempcyc``; option ``gallery``)."""

    spec = SKETCHY_EXT


class SketchyFineGrained(CategoryBenchmark):
    """Cross-category zero-shot FG-SBIR: each unseen class's sketches against that class's 100 photos."""

    spec = SKETCHY_FG
    group_by_label = True
