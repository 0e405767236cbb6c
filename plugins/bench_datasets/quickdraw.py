"""QuickDraw-ext: ``quickdraw-ext``, the 30 unseen classes of Dey et al. (CVPR'19)."""

from __future__ import annotations

from bench_datasets import expected_layouts
from bench_datasets.category import CategoryBenchmark, CategorySpec, Source, SplitDef

DEY = SplitDef(
    "dey",
    "quickdraw_ext_unseen",
    "Dey et al. CVPR'19: 30 unseen classes; test lists of ZSE-SBIR",
    sketch_list="quickdraw_ext_sketch_zero",
    photo_list="quickdraw_ext_photo_zero",
)

QUICKDRAW_EXT = CategorySpec(
    id="quickdraw-ext",
    title="QuickDraw-ext",
    all_classes="quickdraw_ext_all110",
    splits=(DEY,),
    sketches=Source("sketches"),
    photos=(Source("images"),),
    expected_layout=expected_layouts.QUICKDRAW,
)


class QuickDrawExt(CategoryBenchmark):
    """ZS-SBIR on 30 unseen QuickDraw classes against their photos."""

    spec = QUICKDRAW_EXT
