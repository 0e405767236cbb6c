"""Ranking a gallery for every query, streamed over query chunks: what every metric is computed from.

One module per job: :mod:`.inputs` coerces and checks the arguments, :mod:`.chunks` sizes the query
chunks, :mod:`.category` and :mod:`.paired` rank by relevance rule, :mod:`.nearest` lists each
query's most similar items (logged samples), :mod:`.faiss_top_k` is the optional faiss path, and
:mod:`.scores` holds what they return.

Similarity is the dot product of the given features, computed in float32 on the CPU (callers
L2-normalise; tensors on another device are copied to the CPU). The full query x gallery similarity
matrix is never held: queries are processed in chunks whose similarity block stays around
:data:`WORKING_SET_BYTES` (override with ``chunk_size``). Each chunk becomes a
:class:`bench.Rankings` (the ranks of each query's relevant items, R and the number of candidates C),
from which the run's metrics (:class:`~bench.evaluation.measures.MetricSet`, registered by plugins)
compute their per-query values. The relevance rules (:data:`bench.RELEVANCE`):

``same-class`` (:func:`same_class_scores`): the gallery items with the query's label are relevant.
The gallery is ordered by descending similarity; equal similarities keep ascending gallery index
(a stable sort), so among ties the lower gallery index ranks first. Ties are decided on the float32
similarities as computed. The rank of a relevant item with similarity s and gallery index g is
1 + #(items with similarity > s) + #(items with similarity == s and index < g). Each query's
similarities are sorted once (numpy's vectorised sort, values only) and the first count is a binary
search of each relevant similarity; the second is counted directly for the few similarities that
occur more than once in a row (a stable sort of the row when there are many). Rows are ranked in
blocks of one class on a thread pool of ``torch.get_num_threads()`` threads, each block's metrics
computed in its thread. Queries with R = 0 are left out of every mean.

``two-labels`` (:func:`same_class_scores` with ``query_second_labels``): ranked as ``same-class``,
and the gallery items carrying the query's second label are ranked the same way, in the same
ranking (:attr:`bench.Rankings.second_ranks`); blocks hold queries of one (label, second label).

``paired`` (:func:`paired_scores`): the query's paired photo is its one relevant item; its rank is
the number of candidates whose similarity is >= the paired photo's (ties count against the query).
With groups, each query is ranked against its own group's gallery items only (a gallery split by
class). Queries without their paired photo in the gallery are left out.

Optional, never the default: :func:`top_k_scores_faiss` computes metrics that depend on the top K
only (``MetricInfo.top_k_only``) from a faiss index, for galleries too large for the exact path; its
result names the index and whether it was exhaustive (exact up to the order of ties).
"""

from bench.evaluation.ranking.category import same_class_scores
from bench.evaluation.ranking.chunks import WORKING_SET_BYTES
from bench.evaluation.ranking.faiss_top_k import TopKResult, top_k_scores_faiss
from bench.evaluation.ranking.nearest import top_gallery_items
from bench.evaluation.ranking.paired import paired_ranks, paired_scores
from bench.evaluation.ranking.scores import QueryScores

__all__ = [
    "WORKING_SET_BYTES",
    "QueryScores",
    "TopKResult",
    "paired_ranks",
    "paired_scores",
    "same_class_scores",
    "top_gallery_items",
    "top_k_scores_faiss",
]
