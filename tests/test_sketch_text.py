"""Sketch+text retrieval (`bench run --query-text`): the text conditions only the query sketches, one
UNet pass takes a context per sample, a learned textual prompt follows the caption's tokens, the cache
keeps (image, text) rows, and bad input gets one clear message."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from bench_datasets.synthetic import SyntheticFineGrained
from bench_sd.architecture import VARIANTS, miniature
from bench_sd.conditioning import CONTEXT_LENGTH, text_then_learned
from bench_sd.loaders import build_tiny, random_model

from bench import PromptCondition
from bench.extraction.cache import FeatureCache
from bench.extraction.cached import QUERY_TEXT_FIELD, row_key
from bench.extraction.digests import identify_items
from bench.extraction.features import LoadedBackbone, backbone_features
from bench.extraction.loop import ExtractionRequest, extract_descriptors
from bench.plan.layers import resolve_layer
from bench.plan.query_text import query_texts
from bench.plan.settings import ExecutionSettings
from tests.helpers.cli import run_bench
from tests.helpers.plugin_files import EXAMPLE, write_folder_dataset

SIZE = 64
CPU = torch.device("cpu")
EMPTY_PROMPT = PromptCondition()
# the model runs in float64, where a batch and one image give the same features (in float32, CPU
# kernels for different batch sizes differ by up to 1e-3 on this random model, shared prompts too);
# another caption moves a descriptor by more than 1e-2
BATCH_TOLERANCE = 1e-6
SMALL = ["--dataset-option", "num_unseen=2", "--dataset-option", "photos_per_class=3", "--image-size", "64"]
RUN = ["run", "--backbone", "sd-tiny", "--layer", "up1", "--t", "200", "--noise-samples", "1", *SMALL]


@pytest.fixture(scope="module")
def model(registry):
    info = registry.backbones.get("sd-tiny")
    model = build_tiny(info, weights="random", device=CPU, dtype=torch.float64, image_size=SIZE)
    return LoadedBackbone(info, model, "sd")


@pytest.fixture(scope="module")
def dataset():
    return SyntheticFineGrained(num_unseen=2, photos_per_class=3, image_size=SIZE)


def describe(model, registry, dataset, items, texts, prompt=EMPTY_PROMPT, batch_size=8) -> np.ndarray:
    """(len(items), dim) up1 descriptors at t = 200 over 2 noise draws, each item conditioned on its text."""
    plan = resolve_layer("up1", registry.backbones.get("sd-tiny"), registry.layer_selectors, None)
    request = ExtractionRequest(
        (plan,), (200,), 2, prompt, ExecutionSettings(seed=0, batch_size=batch_size, workers=0)
    )
    extraction = extract_descriptors(model, dataset, items, request, texts=texts)
    return extraction.descriptors[(200, "up1")]


def test_text_then_learned_keeps_every_caption_token_then_as_much_learned_context_as_fits():
    rows, width = 3, 6
    text = torch.randn(rows, CONTEXT_LENGTH, width)
    learned = torch.randn(CONTEXT_LENGTH, width, requires_grad=True)
    lengths = torch.tensor([2, 5, CONTEXT_LENGTH])  # the empty text, "a red star", a truncated text
    combined = text_then_learned(text, lengths, learned)
    assert combined.shape == (rows, CONTEXT_LENGTH, width)
    for row, length in enumerate(lengths.tolist()):
        assert torch.equal(combined[row, :length], text[row, :length])
        assert torch.equal(combined[row, length:], learned[: CONTEXT_LENGTH - length])
    combined.sum().backward()  # a learned prompt trains through it: each position counts once per row
    used = [
        sum(position < CONTEXT_LENGTH - n for n in lengths.tolist()) for position in range(CONTEXT_LENGTH)
    ]
    assert torch.equal(learned.grad, torch.tensor(used, dtype=torch.float32)[:, None].expand(-1, width))


def test_sd_conditioning_puts_each_caption_before_the_learned_prompt(model):
    seeded = torch.Generator().manual_seed(0)
    learned = torch.randn(CONTEXT_LENGTH, 32, generator=seeded, dtype=model.model.dtype)
    captions = ("a red star", "an orange gear with many teeth")
    conditioning = model.model.conditioning(PromptCondition(text_embedding=learned, item_texts=captions))
    assert conditioning.hidden_states.shape == (2, CONTEXT_LENGTH, 32)
    assert conditioning.lengths == (5, 8)  # BOS + k tokens + EOS
    for row, (caption, length) in enumerate(zip(captions, (5, 8), strict=True)):
        alone = model.model.encode_text(caption).hidden_states[0]
        torch.testing.assert_close(conditioning.hidden_states[row, :length], alone[:length])
        assert torch.equal(conditioning.hidden_states[row, length:], learned[: CONTEXT_LENGTH - length])


@pytest.mark.slow
def test_one_batch_of_different_captions_equals_each_query_alone(model, registry, dataset):
    queries = dataset.split("query")[:4]
    captions = list(query_texts("caption", dataset, "synthetic-fg").texts[:4])
    assert len(set(captions)) == 4
    together = describe(model, registry, dataset, queries, captions)
    for index, (query, caption) in enumerate(zip(queries, captions, strict=True)):
        alone = describe(model, registry, dataset, [query], [caption])[0]
        np.testing.assert_allclose(together[index], alone, atol=BATCH_TOLERANCE)
        other = describe(model, registry, dataset, [query], [captions[index - 1]])[0]
        assert np.abs(other - alone).max() > 1e-3  # a swapped context would show
        as_prompt = describe(model, registry, dataset, [query], None, PromptCondition(text=caption))[0]
        assert np.array_equal(alone, as_prompt)  # the query's text takes the place of the prompt's
    sketch_only = describe(model, registry, dataset, queries, None)
    assert (np.abs(together - sketch_only).max(axis=1) > 1e-3).all()

    learned = PromptCondition(text_embedding=torch.randn(CONTEXT_LENGTH, 32))
    together = describe(model, registry, dataset, queries, captions, learned)
    for index, (query, caption) in enumerate(zip(queries, captions, strict=True)):
        alone = describe(model, registry, dataset, [query], [caption], learned)[0]
        np.testing.assert_allclose(together[index], alone, atol=BATCH_TOLERANCE)


def test_sdxl_takes_its_added_text_embeds_from_each_text(registry, dataset):
    variant = miniature(VARIANTS["sdxl"])
    raw = random_model(variant, image_size=SIZE, device=CPU, dtype=torch.float32)
    info = replace(registry.backbones.get("sdxl"), layers=tuple(variant.layers), image_size=SIZE)
    model = LoadedBackbone(info, raw, "sd")
    texts = ("a teal pentagon", "a brown key")
    per_item = model.model.conditioning(PromptCondition(item_texts=texts))
    for row, text in enumerate(texts):
        alone = model.model.encode_text(text)
        torch.testing.assert_close(per_item.hidden_states[row], alone.hidden_states[0])
        for name in ("text_embeds", "time_ids"):
            torch.testing.assert_close(per_item.added[name][row], alone.added[name][0])
    assert not torch.allclose(per_item.added["text_embeds"][0], per_item.added["text_embeds"][1])
    pixels = model.preprocess([dataset.load_image(item) for item in dataset.split("query")[:2]])
    with torch.inference_mode():
        out = backbone_features(
            model,
            pixels,
            modality="sketch",
            taps=["up1"],
            timesteps=[200],
            noise_samples=2,
            noise_seeds=[1, 2],
            prompt=PromptCondition(item_texts=texts),
        )[200]["up1"]
    assert out.shape[:2] == (2, 2) and torch.isfinite(out).all()


def bench_json(*args: str) -> list[dict]:
    result = run_bench(*args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def cached_rows(cache_dir: Path, dataset: SyntheticFineGrained, texts: dict[str, list[str]]):
    """The up1 rows of the queries and gallery in the cache: ``plain`` (query rows, gallery rows) from
    the store of images without a text, and per entry of ``texts`` the query rows keyed by those texts
    (asserting every row is there), plus whether the text store holds any gallery image."""
    queries, gallery = dataset.split("query"), dataset.split("gallery")
    identities, unreadable = identify_items(dataset, queries + gallery, workers=1)
    assert not unreadable
    digests = [identity.key for identity in identities]
    stores = {QUERY_TEXT_FIELD in meta: store for meta, store in FeatureCache(cache_dir).stores()}
    assert len(stores) == 2  # one store without texts, one for every text-conditioned row
    for store in stores.values():
        store.load_index()
    plain, found = stores[False].lookup(digests)
    assert found.all()
    by_text = {}
    for name, query_texts_ in texts.items():
        keys = [
            row_key(digest, text) for digest, text in zip(digests[: len(queries)], query_texts_, strict=True)
        ]
        by_text[name], found = stores[True].lookup(keys)
        assert found.all(), name
    _, gallery_found = stores[True].lookup(digests[len(queries) :])
    return plain[: len(queries)], plain[len(queries) :], by_text, gallery_found.any()


@pytest.mark.slow
def test_sketch_text_runs_change_only_the_queries_record_their_source_and_rerun_from_the_cache(tmp_path):
    cache, out = ["--cache-dir", str(tmp_path / "cache")], ["--output-dir", str(tmp_path / "out")]
    (sketch_only,) = bench_json(*RUN, "--dataset", "synthetic-fg", "--json", *cache, *out)
    (captioned,) = bench_json(
        *RUN, "--dataset", "synthetic-fg", "--query-text", "caption", "--json", *cache, *out
    )
    config = tmp_path / "fixed.toml"
    config.write_text('query_text = "text:a red star"\n')
    (fixed,) = bench_json(*RUN, "--config", str(config), "--dataset", "synthetic-fg", "--json", *cache, *out)

    assert "query_text" not in sketch_only["config"] and "_q-" not in sketch_only["name"]
    assert captioned["config"]["query_text"] == "caption" and "_q-caption_" in captioned["name"]
    assert fixed["config"]["query_text"] == "text:a red star"
    assert len({sketch_only["path"], captioned["path"], fixed["path"]}) == 3
    queries, gallery = sketch_only["dataset"]["num_queries"], sketch_only["dataset"]["num_gallery"]
    assert captioned["dataset"]["text_conditioned_queries"] == fixed["dataset"]["text_conditioned_queries"]
    assert captioned["dataset"]["text_conditioned_queries"] == queries == 6
    assert captioned["dataset"]["query_texts_from_photo_captions"] == queries  # sketches have none
    assert "text_conditioned_queries" not in sketch_only["dataset"]
    for run in (captioned, fixed):  # the gallery photos come from the sketch-only run's rows
        assert run["runtime"]["cache_hits"] == gallery and run["runtime"]["cache_misses"] == queries

    dataset = SyntheticFineGrained(num_unseen=2, photos_per_class=3)  # as `bench run` renders it
    texts = {
        "caption": list(query_texts("caption", dataset, "synthetic-fg").texts),
        "fixed": ["a red star"] * queries,
    }
    plain_queries, _, by_text, gallery_conditioned = cached_rows(tmp_path / "cache", dataset, texts)
    assert not gallery_conditioned
    for name in texts:
        differences = np.abs(by_text[name] - plain_queries).max(axis=1)
        assert (differences > 1e-3).all(), name  # every query descriptor changed with its text
    assert (np.abs(by_text["caption"] - by_text["fixed"]).max(axis=1) > 1e-3).all()

    again = run_bench(*RUN, "--dataset", "synthetic-fg", "--query-text", "caption", "--json", *cache, *out)
    assert again.returncode == 0, again.stderr
    assert "extracting" not in again.stderr and "loading backbone" not in again.stderr
    (rerun,) = json.loads(again.stdout)
    assert rerun["runtime"]["cache_misses"] == 0 and rerun["metrics"] == captioned["metrics"]


def assert_refused(result, *phrases: str) -> None:
    """One `Error:` message with ``phrases``, no traceback, and no model loaded."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.count("Error:") == 1 and "Traceback" not in result.stderr, result.stderr
    assert "loading backbone" not in result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


def test_a_backbone_without_text_is_refused_before_anything_loads():
    result = run_bench(
        "run", "--backbone", "vit-tiny", "--dataset", "synthetic-fg", "--query-text", "caption"
    )
    assert_refused(result, "--query-text", "'vit-tiny'", "do not depend on text", "sd-tiny")


@pytest.mark.parametrize("source", ["bogus", "text:", "captions"])
def test_an_unknown_source_is_refused(source):
    result = run_bench(*RUN, "--dataset", "synthetic-fg", "--query-text", source)
    assert_refused(result, f"--query-text {source!r}", "caption", "text:<words>")


def test_a_dataset_without_captions_is_refused_with_a_fixed_text_suggested(tmp_path):
    write_folder_dataset(tmp_path / "data")
    result = run_bench(
        "run",
        "--plugin",
        str(EXAMPLE),
        "--backbone",
        "sd-tiny",
        "--t",
        "200",
        "--dataset",
        "folders",
        "--data-root",
        str(tmp_path / "data"),
        "--query-text",
        "caption",
    )
    assert_refused(result, "dataset 'folders'", "no caption", "text:")
