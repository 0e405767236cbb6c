"""Class-name reconciliation: the explicit tables between the spellings of split lists and folders.

Labels are the class names of the sketch folders of each release (docs/protocol.md section 3), e.g.
Sketchy ``hot-air_balloon`` and TU-Berlin ``bear (animal)``. Two kinds of mismatch are mapped here,
each by a table, never by guessing:

* split lists published with another spelling of a label (sem-pcyc's underscores);
* photo folders named differently from the sketch folders (TU-Berlin-ext's ``ImageResized``).

A name no table maps is reported as an error naming it (see ``category.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bench import BenchError

SKETCHY_SEMPCYC_SPELLINGS: Mapping[str, str] = {
    "hot_air_balloon": "hot-air_balloon",
    "jack_o_lantern": "jack-o-lantern",
}
"""sem-pcyc's renamed Sketchy classes -> the release's folder names (its download script renames both)."""

TUBERLIN_SEMPCYC_SPELLINGS: Mapping[str, str] = {
    "door_handle": "door handle",
    "fire_hydrant": "fire hydrant",
    "flying_saucer": "flying saucer",
    "traffic_light": "traffic light",
    "walkie_talkie": "walkie talkie",
}
"""sem-pcyc's underscore spellings of the TU-Berlin classes in its unseen list -> the sketch folder names."""

TUBERLIN_PHOTO_FOLDERS: Mapping[str, str] = {
    # spaces, hyphens and parentheses dropped
    "alarm clock": "alarmclock",
    "baseball bat": "baseballbat",
    "bear (animal)": "bearanimal",
    "beer-mug": "beermug",
    "bottle opener": "bottleopener",
    "car (sedan)": "carsedan",
    "cell phone": "cellphone",
    "computer monitor": "computermonitor",
    "computer-mouse": "computermouse",
    "crane (machine)": "cranemachine",
    "door handle": "doorhandle",
    "fire hydrant": "firehydrant",
    "floor lamp": "floorlamp",
    "flower with stem": "flowerwithstem",
    "flying bird": "flyingbird",
    "flying saucer": "flyingsaucer",
    "frying-pan": "fryingpan",
    "head-phones": "headphones",
    "hot air balloon": "hotairballoon",
    "hot-dog": "hotdog",
    "human-skeleton": "humanskeleton",
    "ice-cream-cone": "icecreamcone",
    "palm tree": "palmtree",
    "paper clip": "paperclip",
    "parking meter": "parkingmeter",
    "person sitting": "personsitting",
    "person walking": "personwalking",
    "pickup truck": "pickuptruck",
    "potted plant": "pottedplant",
    "power outlet": "poweroutlet",
    "race car": "racecar",
    "santa claus": "santaclaus",
    "satellite dish": "satellitedish",
    "sea turtle": "seaturtle",
    "speed-boat": "speedboat",
    "sponge bob": "spongebob",
    "standing bird": "standingbird",
    "t-shirt": "tshirt",
    "teddy-bear": "teddybear",
    "tennis-racket": "tennisracket",
    "traffic light": "trafficlight",
    "walkie talkie": "walkietalkie",
    "wine-bottle": "winebottle",
    # shortened or misspelled in the release
    "mouse (animal)": "mouse",
    "pipe (for smoking)": "pipe",
    "space shuttle": "spacesshuttle",
    "wrist-watch": "wristwatching",
    "chandelier": "chandeler",
    "diamond": "diamod",
    "giraffe": "griaffe",
    "spider": "spidar",
    "trombone": "tromobone",
}
"""TU-Berlin class (sketch folder under ``png/``) -> its photo folder under the raw ``ImageResized/``.

Classes not listed have a photo folder of the same name. SAKE's preprocessed copy
(``ImageResized_ready/``) names every photo folder like the sketch folder instead.
"""


def labels_of(
    names: Sequence[str], spellings: Mapping[str, str], labels: Iterable[str], what: str
) -> tuple[str, ...]:
    """``names`` (a split list) as labels: each name as is when it is a label, else through ``spellings``.

    Raises:
        BenchError: a name that is neither a label nor in ``spellings`` (the message names it).
    """
    valid = set(labels)
    mapped = tuple(name if name in valid else spellings.get(name, name) for name in names)
    unknown = [name for name, label in zip(names, mapped, strict=True) if label not in valid]
    if unknown:
        raise BenchError(
            f"{what} names classes that no mapping table turns into a class of the release: "
            f"{', '.join(map(repr, unknown))}.",
            "Add the spelling to the tables in bench_datasets/classnames.py (this is a packaging bug).",
        )
    return mapped
