"""depth_task_plugin.py: a new retrieval task, a lower-is-better metric and two tiny datasets, as a
one-file sbir-bench plugin (no file of sbir-bench changes).

WorstR is the rank of a query's last relevant photo: how far down the ranking one reads to have
every photo of the sketch's class (lower is better; a uniformly random ranking of C photos with R
relevant gives R (C + 1) / (R + 1) on average). The task ``class-depth`` reports it beside the
built-in MeanR, mAP@all and P@4 on drawn shapes.

    bench run --plugin depth_task_plugin.py --backbone sd-tiny --dataset tiny-shapes
    bench leaderboard results --plugin depth_task_plugin.py
"""

from functools import partial

import bench
from bench import DatasetInfo, ImageItem, MetricInfo, TaskInfo

SHAPES = ("circle", "square", "triangle", "diamond", "cross")


def worst_rank(rankings, k):
    """(B,) rank of each query's last relevant item, from the (B, R) ranks of its relevant items."""
    return rankings.ranks.max(axis=1).astype(float)


def worst_rank_chance(num_relevant, num_candidates, k):
    """The expected largest of R distinct uniformly random ranks among C: R (C + 1) / (R + 1)."""
    return num_relevant * (num_candidates + 1) / (num_relevant + 1)


class TinyShapes(bench.Dataset):
    """``classes`` shapes, ``per_class`` photos each (a filled shape on a tinted ground) and one
    outline sketch per photo; the test split is all of them, there is no training split."""

    def __init__(self, classes=4, per_class=3, seed=0):
        self.classes, self.per_class, self.seed = int(classes), int(per_class), int(seed)
        shapes = SHAPES[: self.classes]
        self.photos = [
            ImageItem(f"photo/{s}/{i}", "photo", s, f"{s}{i}") for s in shapes for i in range(self.per_class)
        ]
        self.sketches = [
            ImageItem(f"sketch/{p.label}/{p.instance}", "sketch", p.label, p.instance) for p in self.photos
        ]

    def split(self, name):
        return {"query": self.sketches, "gallery": self.photos, "train": []}[name]

    def load_image(self, item):
        from PIL import Image, ImageDraw

        index = int(item.instance[len(item.label) :])
        offset = 6 * index + 2 * self.seed  # each instance drawn at its own place and size
        box = (10 + offset, 12 + offset // 2, 54 - offset // 2, 56 - offset)
        image = Image.new(
            "RGB", (64, 64), "white" if item.modality == "sketch" else (200, 190 + 10 * index, 170)
        )
        draw = ImageDraw.Draw(image)
        style = {"outline": "black", "width": 2} if item.modality == "sketch" else {"fill": (40, 60, 160)}
        x0, y0, x1, y1 = box
        if item.label == "circle":
            draw.ellipse(box, **style)
        elif item.label == "square":
            draw.rectangle(box, **style)
        elif item.label == "triangle":
            draw.polygon([((x0 + x1) // 2, y0), (x1, y1), (x0, y1)], **style)
        elif item.label == "diamond":
            draw.polygon(
                [((x0 + x1) // 2, y0), (x1, (y0 + y1) // 2), ((x0 + x1) // 2, y1), (x0, (y0 + y1) // 2)],
                **style,
            )
        else:
            draw.rectangle((x0, (y0 + y1) // 2 - 4, x1, (y0 + y1) // 2 + 4), **style)
            draw.rectangle(((x0 + x1) // 2 - 4, y0, (x0 + x1) // 2 + 4, y1), **style)
        return image


@bench.hookimpl
def register_metrics(register):
    register(
        MetricInfo(
            id="WorstR",
            per_query=worst_rank,
            unit="rank",
            higher_is_better=False,
            description="rank of the last relevant item (how deep every relevant photo is found)",
            digits=2,
            chance=worst_rank_chance,
        )
    )


@bench.hookimpl
def register_tasks(register):
    register(
        TaskInfo(
            id="class-depth",
            title="Class depth (every photo of the class)",
            relevance="same-class",
            metrics=("WorstR", "MeanR", "mAP@all", "P@4"),
            columns=("WorstR", "mAP@all"),
            main_metric="WorstR",
            description="how deep in the ranking every photo of the sketch's class is found",
        )
    )


@bench.hookimpl
def register_datasets(register):
    for dataset_id, per_class in (("tiny-shapes", 3), ("tiny-shapes-4", 4)):
        register(
            DatasetInfo(
                id=dataset_id,
                target=partial(TinyShapes, per_class=per_class),
                task="class-depth",
                description=f"4 drawn shapes, {per_class} photos each, one outline sketch per photo",
                needs_root=False,
                options={"seed": "where each instance is drawn (default 0)"},
            )
        )
