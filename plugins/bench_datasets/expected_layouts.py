"""The on-disk layouts the adapters read (docs/protocol.md section 3), shown whenever a root is wrong.

Strings only: the plugin's registration imports this module and must stay light.
"""

_SAKE_COPY = "  SAKE's preprocessed copy is read too (the same folders with _ready appended to their names)."
_SKETCHY_FOLDERS = (
    "  <root>/256x256/sketch/tx_000000000000/<class>/<photo id>-<n>.png  sketches\n"
    "  <root>/256x256/photo/tx_000000000000/<class>/<photo id>.jpg      photos (100 per class)\n"
)
_SKETCHY_CLASSES = (
    "  125 class folders as released (car_(sedan), hot-air_balloon, jack-o-lantern, teddy_bear, ...);\n"
    "  the other tx_* folders (augmented variants) are not read.\n"
)

SKETCHY = (
    _SKETCHY_FOLDERS
    + "  <root>/EXTEND_image_sketchy/<class>/*.jpg                        extended photos (+ originals)\n"
    + _SKETCHY_CLASSES
    + _SAKE_COPY
)
SKETCHY_FG = _SKETCHY_FOLDERS + _SKETCHY_CLASSES + _SAKE_COPY
TUBERLIN = (
    "  <root>/png/<class>/<id>.png          sketches: 250 class folders (bear (animal), t-shirt, ...)\n"
    "  <root>/ImageResized/<folder>/*.JPEG  photos: folders as released (bearanimal, tshirt, ...)\n"
    + _SAKE_COPY
)
QUICKDRAW = (
    "  <root>/sketches/<class>/<key id>.png     sketches: 110 class folders (palm tree, fire_hydrant, ...)\n"
    "  <root>/images/<class>/image_<nnnnn>.jpg  photos: the same class folders\n" + _SAKE_COPY
)

FSCOCO = (
    "  <root>/images/<user>/<id>.jpg           photos (MS-COCO images); user folders 1..100 as released\n"
    "  <root>/raster_sketches/<user>/<id>.jpg  sketches (any image format), paired with the photo of <id>\n"
    "  <root>/text/<user>/<id>.txt             each sketch's caption, written by its sketcher\n"
    "  <root>/val_normal.txt                   the test ids of split=normal (default), one a line\n"
    "  <root>/val_unseen_user.txt              the test ids of split=unseen_user\n"
    "  The vector sketches (raw_data/, vector_sketches/) are not read."
)


def qmul(name: str) -> str:
    """The two QMUL release layouts for ``name`` (``ShoeV2`` or ``ChairV2``)."""
    return (
        f"  release (a): <root>/{name}_photo/<id>.png, <root>/{name}_sketch_png/<id>_<n>.png,\n"
        "               <root>/photo_train.txt, photo_test.txt, sketch_train.txt, sketch_test.txt\n"
        "  release (b): <root>/testA/<id>_<n>.png (sketches), <root>/testB/<id>.png (photos),\n"
        "               <root>/trainA/, <root>/trainB/ likewise\n"
        "  A sketch <id>_<n> is drawn from photo <id>."
    )


GEIRHOS = (
    "  <root>/stimuli/style-transfer-preprocessed-512/<shape class>/<shape><n>-<texture><m>.png\n"
    "      the 1,280 cue-conflict images of github.com/rgeirhos/texture-vs-shape, in 16 class folders\n"
    "      (airplane, bear, bicycle, bird, boat, bottle, car, cat, chair, clock, dog, elephant, keyboard,\n"
    "      knife, oven, truck); <root> is the repository (or its stimuli/ folder)\n"
    "  <root>/stimuli/edges/<class>/<class><n>.png      references=edges (default): the clean references\n"
    "  <root>/stimuli/filled-silhouettes/<class>/...    references=filled-silhouettes\n"
    "  <root>/stimuli/<folder>/<class>/<any name>       references=<folder>: e.g. your own photos of the\n"
    "      16 classes (the original photos are not distributed)"
)
