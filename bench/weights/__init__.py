"""``bench.weights``: locating, identifying and checking a backbone's weights (public; no torch).

The one place plugins find weights through: ``from bench.weights import ...`` (a test holds the
built-in plugins to ``bench`` and ``bench.weights``; deeper modules are not public).

- Reading a ``--weights`` value (``names``): ``is_hub_id`` is the one rule for a Hugging Face hub
  id and everything else is a path (``is_path_like`` is its negation); ``split_revision`` is the
  one parser of ``ORG/NAME@REVISION``, ``split_base`` of ``A+B``; an existing path is never split.
- The hub without waiting on it (``hub``): the local cache first (``cached_file``,
  ``cached_snapshot``), a 3-second reachability check (``hub_reachable``), and one message with the
  ``hf download`` command for what is missing (``not_cached_error``, ``hf_download_command``).
- One-file checkpoints (``checkpoints``: timm, open_clip, ``hf:`` models): ``check_checkpoint``
  before a run, ``local_checkpoint`` for ``bench list``, ``checkpoint_file`` to load;
  diffusers folders' weight files and fp16/bf16 variants (``diffusers_files``); a diffusers
  folder's needed parts located on this machine (``local_diffusers_weights``, the cache with
  ``cached_diffusers_snapshot``) and an incomplete one refused (``require_parts``,
  ``require_weight_files``) the same way for every diffusion family (``diffusers_folders``).
- diffusers' notices about a correct load or cast (``diffusers_notices_silenced(KEEP_IN_FP32)``,
  ``NO_ACCELERATE``), dropped one by one, the library's verbosity left as the user set it.
- Checking a load (every tensor of the model read from the file, none left over:
  ``require_complete``, ``load_complete``) and reading torch files without running code in them
  (``read_torch_file``, ``read_state_dict``, ``tensor_shapes``).
- The identity of weights (``weights_identity``): what they are, not what they are called.

The names that were importable from ``bench`` itself before this namespace still are, with a
``DeprecationWarning`` naming this module (``bench.MOVED_TO_WEIGHTS`` lists them).
"""

from __future__ import annotations

from bench.api.library_notices import KEEP_IN_FP32, NO_ACCELERATE, diffusers_notices_silenced
from bench.api.tensor_names import (
    TensorGaps,
    from_pretrained_part,
    load_complete,
    loading_info_gaps,
    model_gaps,
    require_complete,
)
from bench.api.torch_files import INTACT_FILE_HINT, read_state_dict, read_torch_file, tensor_shapes
from bench.weights.checkpoints import (
    check_checkpoint,
    check_random,
    checkpoint_file,
    local_checkpoint,
    unreadable_checkpoint,
)
from bench.weights.diffusers_files import has_plain_weights, missing_weight_files, part_variant, variants_in
from bench.weights.diffusers_folders import (
    cached_diffusers_snapshot,
    local_diffusers_weights,
    require_parts,
    require_weight_files,
)
from bench.weights.hub import (
    cached_file,
    cached_snapshot,
    hf_download_command,
    hub_reachable,
    not_cached_error,
)
from bench.weights.identity import weights_identity
from bench.weights.names import (
    NO_WEIGHTS,
    RANDOM,
    RANDOM_NOTE,
    is_hub_id,
    is_path_like,
    is_single_file,
    split_base,
    split_revision,
)

__all__ = [
    "INTACT_FILE_HINT",
    "KEEP_IN_FP32",
    "NO_ACCELERATE",
    "NO_WEIGHTS",
    "RANDOM",
    "RANDOM_NOTE",
    "TensorGaps",
    "cached_diffusers_snapshot",
    "cached_file",
    "diffusers_notices_silenced",
    "cached_snapshot",
    "check_checkpoint",
    "check_random",
    "checkpoint_file",
    "from_pretrained_part",
    "has_plain_weights",
    "hf_download_command",
    "hub_reachable",
    "is_hub_id",
    "is_path_like",
    "is_single_file",
    "load_complete",
    "loading_info_gaps",
    "local_checkpoint",
    "local_diffusers_weights",
    "missing_weight_files",
    "model_gaps",
    "not_cached_error",
    "part_variant",
    "read_state_dict",
    "read_torch_file",
    "require_complete",
    "require_parts",
    "require_weight_files",
    "split_base",
    "split_revision",
    "tensor_shapes",
    "unreadable_checkpoint",
    "variants_in",
    "weights_identity",
]
