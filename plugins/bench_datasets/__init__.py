"""Built-in plugin: dataset adapters (the generated ``synthetic`` benchmarks and the real releases).

Registration imports no adapter: each target is a ``"module:attribute"`` string imported when used.
The real benchmarks follow the protocol (docs/protocol.md: splits, galleries, paper columns); ``bench datasets
check`` validates a root for any of them.
"""

from __future__ import annotations

from bench import DatasetInfo, hookimpl
from bench_datasets import expected_layouts


def generator_options(**own: str) -> dict[str, str]:
    """The options of a generated dataset: ``seed``, its ``own`` (name -> description), ``image_size``."""
    return {"seed": "generator seed (default 0)", **own, "image_size": "image side in pixels (default 128)"}


SYNTHETIC_OPTIONS = generator_options(
    num_classes="categories in all, seen + unseen (default 24)",
    num_unseen="test (unseen) categories (default 8)",
    photos_per_class="test photos per unseen category (default 12)",
    train_photos_per_class="training photos per seen category (default 12)",
    sketches_per_photo="sketches drawn from each photo (default 1)",
)
SCENE_OPTIONS = generator_options(
    scenes="test scenes: one query sketch and one gallery photo each (default 96)",
    train_scenes="training scenes (default 96)",
)
CUE_CONFLICT_OPTIONS = generator_options(
    num_classes="categories, each with a texture of its own (default 8)",
    references_per_class="clean references (gallery) per category (default 6)",
    conflicts_per_pair="cue-conflict images (queries) per (shape, texture) category pair (default 2)",
)
SCENE_COLUMNS = ("R@1", "R@10")
GALLERY_OPTION = {
    "gallery": "unique (default: each photo once) or listed (the published list, duplicated photos included)"
}
FSCOCO_OPTIONS = {
    "split": "normal (default; test ids of val_normal.txt) or unseen_user (val_unseen_user.txt)"
}
QMUL_OPTIONS = {"release": "a or b (default: detected from the folders)"}
INSTANCE_COLUMNS = ("Acc@1", "Acc@5", "Acc@10")


def category_metrics(map_k: int, *prec_k: int) -> tuple[str, ...]:
    """The category metrics of a zero-shot benchmark: mAP@all, mAP@all[plain], mAP@K and
    mAP@K[retrieved] at ``map_k``, then P@K at each of ``prec_k``."""
    cutoff = (f"mAP@{map_k}", f"mAP@{map_k}[retrieved]")
    return ("mAP@all", "mAP@all[plain]", *cutoff, *(f"P@{k}" for k in prec_k))


def _real_datasets() -> list[DatasetInfo]:
    return [
        DatasetInfo(
            id="sketchy",
            target="bench_datasets.sketchy:Sketchy",
            task="zs-sbir",
            description="Sketchy: 21 unseen classes vs their extended photos (split: yelamarthi)",
            columns=("mAP@200", "P@200"),
            expected_layout=expected_layouts.SKETCHY,
            metrics=category_metrics(200, 200),
            options=GALLERY_OPTION,
        ),
        DatasetInfo(
            id="sketchy-ext",
            target="bench_datasets.sketchy:SketchyExt",
            task="zs-sbir",
            description="Sketchy-ext: 25 unseen classes vs their extended photos (split: sake | sempcyc)",
            columns=("mAP@all", "P@100"),
            expected_layout=expected_layouts.SKETCHY,
            metrics=category_metrics(200, 100),
            options={"split": "sake (default) or sempcyc", **GALLERY_OPTION},
        ),
        DatasetInfo(
            id="tuberlin-ext",
            target="bench_datasets.tuberlin:TuBerlinExt",
            task="zs-sbir",
            description="TU-Berlin-ext: 30 unseen classes vs their photos (split: sake | sempcyc)",
            columns=("mAP@all", "P@100"),
            expected_layout=expected_layouts.TUBERLIN,
            metrics=category_metrics(200, 100),
            options={"split": "sake (default) or sempcyc"},
        ),
        DatasetInfo(
            id="quickdraw-ext",
            target="bench_datasets.quickdraw:QuickDrawExt",
            task="zs-sbir",
            description="QuickDraw-ext: 30 unseen classes vs their photos (split: dey)",
            columns=("mAP@all", "P@200"),
            expected_layout=expected_layouts.QUICKDRAW,
            metrics=category_metrics(200, 200),
        ),
        DatasetInfo(
            id="fscoco",
            target="bench_datasets.fscoco:FSCOCO",
            task="scene-sbir",
            description="FS-COCO: scene sketches vs all test photos of a split (split: normal | unseen_user)",
            columns=SCENE_COLUMNS,
            expected_layout=expected_layouts.FSCOCO,
            options=FSCOCO_OPTIONS,
        ),
        DatasetInfo(
            id="sketchy-fg",
            target="bench_datasets.sketchy:SketchyFineGrained",
            task="fg-sbir",
            description="Sketchy zero-shot FG: 21 unseen classes, per-class galleries (split: yelamarthi)",
            columns=("Acc@1", "Acc@5"),
            expected_layout=expected_layouts.SKETCHY_FG,
        ),
        DatasetInfo(
            id="shoev2",
            target="bench_datasets.qmul:ShoeV2",
            task="fg-sbir",
            description="QMUL-Shoe-V2: instance-level FG-SBIR, 200 test photos (release a or b)",
            columns=INSTANCE_COLUMNS,
            expected_layout=expected_layouts.qmul("ShoeV2"),
            options=QMUL_OPTIONS,
        ),
        DatasetInfo(
            id="geirhos-cue-conflict",
            target="bench_datasets.geirhos:GeirhosCueConflict",
            task="shape-bias",
            description="Geirhos et al. (ICLR 2019) cue-conflict stimuli: 1,200 images decided by their "
            "nearest clean reference (texture-vs-shape repository)",
            expected_layout=expected_layouts.GEIRHOS,
            options={
                "references": "the folder of stimuli/ holding the clean references: edges (default), "
                "filled-silhouettes, or another with the 16 class folders"
            },
        ),
        DatasetInfo(
            id="chairv2",
            target="bench_datasets.qmul:ChairV2",
            task="fg-sbir",
            description="QMUL-Chair-V2: instance-level FG-SBIR, 100 test photos (release a or b)",
            columns=INSTANCE_COLUMNS,
            expected_layout=expected_layouts.qmul("ChairV2"),
            options=QMUL_OPTIONS,
        ),
    ]


@hookimpl
def register_datasets(register) -> None:
    register(
        DatasetInfo(
            id="synthetic",
            target="bench_datasets.synthetic:SyntheticCategory",
            task="zs-sbir",
            description="generated shapes: zero-shot category-level SBIR on unseen classes (no files)",
            columns=("mAP@all", "P@10"),
            needs_root=False,
            metrics=category_metrics(10, 10),
            options=SYNTHETIC_OPTIONS,
        )
    )
    register(
        DatasetInfo(
            id="synthetic-fg",
            target="bench_datasets.synthetic:SyntheticFineGrained",
            task="fg-sbir",
            description="generated shapes: fine-grained SBIR in per-class galleries of unseen classes",
            columns=("Acc@1", "Acc@5"),
            needs_root=False,
            options=SYNTHETIC_OPTIONS,
        )
    )
    register(
        DatasetInfo(
            id="synthetic-scene",
            target="bench_datasets.synthetic:SyntheticScene",
            task="scene-sbir",
            description="generated scenes of 2-4 shapes: scene-level SBIR, each sketch vs every test photo",
            columns=SCENE_COLUMNS,
            needs_root=False,
            options=SCENE_OPTIONS,
        )
    )
    register(
        DatasetInfo(
            id="synthetic-cue-conflict",
            target="bench_datasets.synthetic:SyntheticCueConflict",
            task="shape-bias",
            description="generated cue conflict: one category's shape in another's texture, decided by "
            "the nearest clean reference (no files)",
            needs_root=False,
            options=CUE_CONFLICT_OPTIONS,
        )
    )
    for info in _real_datasets():
        register(info)


@hookimpl
def register_commands(cli) -> None:
    from bench_datasets.check import datasets_group

    cli.add_command(datasets_group)
