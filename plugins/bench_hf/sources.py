"""Where an ``hf:`` model's files are: a local folder, or a repository in the Hugging Face cache.

Only the local disk is read, except that a repository missing from the cache is fetched when the
hub is reachable (bench's 3-second check: never the libraries' minutes of retries offline).
"""

from __future__ import annotations

from pathlib import Path

from bench import BenchError
from bench.weights import check_checkpoint, checkpoint_file, is_hub_id, local_checkpoint
from bench_hf.architecture import CONFIG_FILE, WEIGHT_FILES


def how_to_get(source: str, backbone_id: str) -> str:
    """What to do when ``source``'s files are not here."""
    if not is_hub_id(source):
        return f"Pass a folder holding {CONFIG_FILE} and the weights ({' or '.join(WEIGHT_FILES)})."
    return (
        f"On a connected machine run `hf download {source}` and copy the cache (~/.cache/huggingface/hub), "
        f"or save the model to a folder and name it: --backbone hf:/path/to/folder (or --weights FOLDER "
        f"with {backbone_id} once its {CONFIG_FILE} is cached)."
    )


def model_folder(source: str, backbone_id: str) -> Path:
    """The folder holding ``source``'s ``config.json``: ``source`` itself, or its snapshot in the cache.

    Raises:
        BenchError: the folder has no config, or the repository is neither cached nor reachable.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / CONFIG_FILE).is_file():
            raise BenchError(
                f"Folder {source!r} for backbone {backbone_id!r} has no {CONFIG_FILE}.",
                how_to_get(source, backbone_id),
            )
        return path
    if not is_hub_id(source):
        raise BenchError(
            f"Model folder {source!r} for backbone {backbone_id!r} does not exist.",
            how_to_get(source, backbone_id),
        )
    found = local_checkpoint(source, (CONFIG_FILE,))
    if found is None:
        try:
            found = checkpoint_file(source, backbone_id, (CONFIG_FILE,))
        except BenchError as exc:
            raise BenchError(
                f"Model {source!r} for backbone {backbone_id!r} is not on this machine: its {CONFIG_FILE} is "
                "not in the Hugging Face cache and the hub cannot be reached (offline, or HF_HUB_OFFLINE=1).",
                how_to_get(source, backbone_id),
            ) from exc
    return Path(found).parent


def check_weights(weights: str, backbone_id: str) -> None:
    """Fail fast, before a run starts, when ``weights`` (a folder or a repository id) is neither
    here nor downloadable (downloads nothing).

    Raises:
        BenchError: naming the model and how to get it.
    """
    if Path(weights).expanduser().is_dir() or not is_hub_id(weights):
        folder = model_folder(weights, backbone_id)
        if not any((folder / name).is_file() for name in WEIGHT_FILES):
            raise BenchError(
                f"Folder {weights!r} for backbone {backbone_id!r} holds no weights "
                f"(none of {', '.join(WEIGHT_FILES)}).",
                how_to_get(weights, backbone_id),
            )
        return
    if local_checkpoint(weights, WEIGHT_FILES) is not None:
        return
    try:
        check_checkpoint(weights, backbone_id, WEIGHT_FILES)
    except BenchError as exc:
        raise BenchError(
            f"The weights of {weights!r} for backbone {backbone_id!r} are not on this machine: not in "
            "the Hugging Face cache, and the hub cannot be reached (offline, or HF_HUB_OFFLINE=1).",
            how_to_get(weights, backbone_id),
        ) from exc


def local_weights(weights: str) -> str | None:
    """The folder or cached file of ``weights`` on this machine, or None (never the network)."""
    path = Path(weights).expanduser()
    if path.is_dir():
        return str(path) if any((path / name).is_file() for name in WEIGHT_FILES) else None
    return local_checkpoint(weights, WEIGHT_FILES) if is_hub_id(weights) else None
