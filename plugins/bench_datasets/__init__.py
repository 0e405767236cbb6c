"""Built-in plugin: dataset adapters (the generated ``synthetic`` benchmarks)."""

from __future__ import annotations

from bench import DatasetInfo, hookimpl

SYNTHETIC_OPTIONS = {
    "seed": "generator seed (default 0)",
    "num_classes": "categories in all, seen + unseen (default 24)",
    "num_unseen": "test (unseen) categories (default 8)",
    "photos_per_class": "test photos per unseen category (default 12)",
    "train_photos_per_class": "training photos per seen category (default 12)",
    "sketches_per_photo": "sketches drawn from each photo (default 1)",
    "image_size": "image side in pixels (default 128)",
}


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
            map_k=(10,),
            prec_k=(10,),
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
