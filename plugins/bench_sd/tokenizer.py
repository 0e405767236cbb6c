"""A real CLIP BPE tokenizer built offline from the vocabulary file open_clip ships.

Its token ids equal ``open_clip.tokenize`` (padding with end-of-text, as SD v1.x does), without
importing open_clip (whose import costs seconds) or downloading a tokenizer.
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import cache
from pathlib import Path

from bench import BenchError

CLIP_VOCAB_SIZE = 49408
CONTEXT_LENGTH = 77
_BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"


def _bpe_path() -> Path:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise BenchError(
            "The CLIP vocabulary (shipped by open_clip_torch) is not installed.",
            "Install it with `pip install open_clip_torch`.",
        )
    return Path(next(iter(spec.submodule_search_locations))) / _BPE_FILE


def _byte_symbols() -> list[str]:
    """The 256 printable symbols byte-level BPE uses for the bytes 0..255, in vocabulary order."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    others = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + n) for n in range(len(others))]


@cache
def clip_tokenizer():
    """A ``transformers.CLIPTokenizer`` with CLIP's real 49,408-token vocabulary, max length 77."""
    from transformers import CLIPTokenizer

    lines = gzip.open(_bpe_path(), "rt", encoding="utf-8").read().split("\n")
    symbols = _byte_symbols()
    merges = lines[1 : 1 + CLIP_VOCAB_SIZE - 2 * len(symbols) - 2]
    tokens = [*symbols, *(s + "</w>" for s in symbols), *("".join(m.split()) for m in merges)]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(tokens)}
    tokenizer = CLIPTokenizer(
        vocab=vocab, merges=[tuple(m.split()) for m in merges], model_max_length=CONTEXT_LENGTH
    )
    assert len(tokenizer) == CLIP_VOCAB_SIZE, len(tokenizer)
    return tokenizer
