"""``bench.weights``: locating, identifying and checking a backbone's weights (public; no torch).

The one place plugins find weights through (``from bench.weights import ...``; a test holds the
built-in plugins to ``bench`` and ``bench.weights``):

* reading a ``--weights`` value (:mod:`bench.weights.names`): :func:`is_hub_id` is the one rule
  for a Hugging Face hub id (everything else is a path: :func:`is_path_like`), :func:`split_revision`
  the one parser of ``ORG/NAME@REVISION``, :func:`split_base` of ``A+B``;
* the hub without waiting on it (:mod:`bench.weights.hub`): the local cache first, a 3-second
  reachability check, one message and ``hf download`` command for what is missing;
* one-file checkpoints (:mod:`bench.weights.checkpoints`: timm, open_clip, ``hf:`` models) and
  diffusers folders' weight files and variants (:mod:`bench.weights.diffusers_files`);
* checking a load (every tensor of the model read from the file, none left over) and reading
  torch files without running code in them;
* the identity of weights (:func:`weights_identity`): what they are, not what they are called.

The names that were importable from ``bench`` itself before this namespace still are, with a
:class:`DeprecationWarning` naming this module (``bench.MOVED_TO_WEIGHTS`` lists them).
"""

from __future__ import annotations

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
    "NO_WEIGHTS",
    "RANDOM",
    "RANDOM_NOTE",
    "TensorGaps",
    "cached_file",
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
    "missing_weight_files",
    "model_gaps",
    "not_cached_error",
    "part_variant",
    "read_state_dict",
    "read_torch_file",
    "require_complete",
    "split_base",
    "split_revision",
    "tensor_shapes",
    "unreadable_checkpoint",
    "variants_in",
    "weights_identity",
]
