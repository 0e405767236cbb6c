"""TU-Berlin-ext: ``tuberlin-ext``, the SAKE split (default) or the sem-pcyc split (``split=sempcyc``)."""

from __future__ import annotations

from bench_datasets import expected_layouts
from bench_datasets.category import CategoryBenchmark, CategorySpec, Source, SplitDef
from bench_datasets.classnames import TUBERLIN_PHOTO_FOLDERS, TUBERLIN_SEMPCYC_SPELLINGS

SAKE = SplitDef(
    "sake",
    "tuberlin_ext_unseen",
    "SAKE ICCV'19: 30 unseen classes (also TCN, ZSE-SBIR); SAKE's test lists",
    sketch_list="tuberlin_ext_sake_sketch_zero",
    photo_list="tuberlin_ext_sake_photo_zero",
)
SEMPCYC = SplitDef(
    "sempcyc",
    "tuberlin_ext_sempcyc_seed0_unseen",
    "sem-pcyc class split (seed 0): 30 unseen classes, identical to MARL's; no file list",
    spellings=TUBERLIN_SEMPCYC_SPELLINGS,
)

TUBERLIN_EXT = CategorySpec(
    id="tuberlin-ext",
    title="TU-Berlin-ext",
    all_classes="tuberlin_all250",
    splits=(SAKE, SEMPCYC),
    sketches=Source("png"),
    photos=(Source("ImageResized", TUBERLIN_PHOTO_FOLDERS),),
    expected_layout=expected_layouts.TUBERLIN,
)


class TuBerlinExt(CategoryBenchmark):
    """ZS-SBIR on 30 unseen TU-Berlin classes against their TU-Berlin-ext photos."""

    spec = TUBERLIN_EXT
