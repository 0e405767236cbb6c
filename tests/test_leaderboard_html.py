"""The leaderboard as a web page (`bench leaderboard --format html`): one self-contained file with
every section of the markdown page, the same bytes for the same results, `--check`, inert strings
from results files, sanitised figures, and, in a real headless browser, no errors, columns that
sort, filters that hide rows and hostile names that stay text."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench.results.leaderboard.svg import inline_svg
from bench.results.schema import RunResult, write_result
from tests.helpers.browser import browser_required, chromium, run_in_page
from tests.helpers.cli import run_bench
from tests.helpers.retrieval import specs

HOSTILE_IMG = "<img src=x onerror=alert(1)>"
HOSTILE_SCRIPT = "</script><script>alert(2)</script>"
HOSTILE_PROMPT = 'text:"><svg onload=alert(3)>'
REPORTED = """
[[reported]]
dataset = "synthetic"
method = "A paper's method <b>bold</b>"
backbone = "Paper backbone"
source = "Alpha et al., 2024, Table 1"
arxiv = "2401.00001"
metrics = { "mAP@all" = 0.45, "P@100" = 0.5 }
"""


def zs_run(
    backbone: str,
    layer: str,
    t: int | None,
    map_all: float,
    p100: float,
    *,
    prompt: str = "none",
    plugin: str = "sd",
    note: str | None = None,
) -> RunResult:
    """A zs-sbir run on synthetic with intervals, chance levels and the backbone's plugin."""
    return RunResult(
        task="zs-sbir",
        config={
            "backbone": backbone,
            "weights": "random",
            "layer": layer,
            "t": t,
            "prompt": prompt,
            "dataset": "synthetic",
            "dataset_options": {},
            "noise_samples": 1 if t is not None else None,
            "seed": 0,
        },
        dataset={"id": "synthetic", "columns": ["mAP@all", "P@100"], "num_queries": 10, "num_gallery": 20},
        metrics={"mAP@all": map_all, "P@100": p100},
        backbone_note=note,
        provenance={"components": [{"kind": "backbone", "id": backbone, "plugin": plugin}]},
        chance={
            "metrics": {"mAP@all": 0.1, "P@100": 0.1},
            "methods": {"mAP@all": "simulated", "P@100": "exact"},
        },
        intervals={
            "level": 0.95,
            "method": "percentile bootstrap",
            "unit": "query",
            "resamples": 100,
            "seed": 0,
            "bounds": {"mAP@all": [map_all - 0.01, map_all + 0.01], "P@100": [p100 - 0.01, p100 + 0.01]},
        },
    )


def fg_run(backbone: str, acc1: float) -> RunResult:
    return RunResult(
        task="fg-sbir",
        config={"backbone": backbone, "layer": "up1", "t": 50, "prompt": "none", "dataset": "synthetic-fg"},
        dataset={"id": "synthetic-fg", "columns": ["Acc@1", "Acc@5"], "num_queries": 8, "num_gallery": 8},
        metrics={"Acc@1": acc1, "Acc@5": 50.0},
        provenance={"components": [{"kind": "backbone", "id": backbone, "plugin": "sd"}]},
    )


RUNS = [
    # sd-tiny swept over two layers and two timesteps: an ablation table and a sweep figure
    zs_run("sd-tiny", "up1", 50, 0.30, 0.25),
    zs_run("sd-tiny", "up1", 200, 0.28, 0.33),
    zs_run("sd-tiny", "up2", 50, 0.26, 0.21),
    zs_run("sd-tiny", "up2", 200, 0.24, 0.37),
    zs_run("clip-tiny", "embed", None, 0.35, 0.15, plugin="openclip"),
    zs_run(HOSTILE_IMG, "embed", None, 0.20, 0.29, plugin=HOSTILE_IMG, note=HOSTILE_SCRIPT),
    zs_run(HOSTILE_SCRIPT, "embed", None, 0.22, 0.11, prompt=HOSTILE_PROMPT),
    fg_run("sd-tiny", 30.0),
    fg_run("clip-tiny", 20.0),
]


@pytest.fixture
def page_inputs(tmp_path: Path) -> tuple[Path, Path]:
    """(results folder, reported file) of a small leaderboard with hostile names."""
    results = tmp_path / "board" / "results"
    for run in RUNS:
        write_result(results / run.config["dataset"], run, specs())
    reported = tmp_path / "board" / "reported.toml"
    reported.write_text(REPORTED)
    return results, reported


def page_tags(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Every start tag of an HTML page and its attributes, as a browser's parser reads them."""
    tags: list[tuple[str, list[tuple[str, str]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.append((tag, [(name, value or "") for name, value in attrs]))

    Collector().feed(text)
    return tags


def render(results: Path, reported: Path, output: Path, *extra: str):
    return run_bench(
        "leaderboard", str(results), "--reported", str(reported), "--output", str(output), *extra
    )


@pytest.mark.slow
def test_html_page_is_self_contained_deterministic_and_checked(page_inputs, tmp_path: Path) -> None:
    results, reported = page_inputs
    page, again = tmp_path / "board" / "index.html", tmp_path / "board" / "again.html"
    for output in (page, again):
        done = render(results, reported, output, "--format", "html")
        assert done.returncode == 0, done.stderr
    text = page.read_text(encoding="utf-8")
    assert page.read_bytes() == again.read_bytes()  # no timestamp, no random id
    assert text.startswith("<!DOCTYPE html>") and text.count("<script") == 1 and text.count("<style") == 1
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    # nothing fetched: no src attribute, no stylesheet link, no import, no remote url(); links only to
    # the results files, to arXiv and within the page
    tags = page_tags(text)
    assert not {name for _, attributes in tags for name, _ in attributes} & {"src", "srcset", "action"}
    assert not {tag for tag, _ in tags} & {"link", "iframe", "object", "embed", "img", "base", "form"}
    assert "@import" not in text and "http://" not in text and set(re.findall(r"url\((.)", text)) <= {"#"}
    hrefs = [value for _, attributes in tags for name, value in attributes if name in ("href", "xlink:href")]
    allowed = ("#", "results/", "https://arxiv.org/abs/", "data:image/png;base64,")
    assert hrefs and all(href.startswith(allowed) for href in hrefs)
    assert "<figure" in text and "<svg" in text  # sd-tiny's layer x t sweep
    checked = render(results, reported, page, "--format", "html", "--check")
    assert checked.returncode == 0, checked.stderr
    page.write_text(text.replace("sd-tiny", "sd-tinier", 1), encoding="utf-8")
    stale = render(results, reported, page, "--format", "html", "--check")
    assert stale.returncode == 1 and "stale" in stale.stderr and "--format html" in stale.stderr


@pytest.mark.slow
def test_html_page_has_every_section_of_the_markdown(page_inputs, tmp_path: Path) -> None:
    results, reported = page_inputs
    markdown, page = tmp_path / "board" / "README.md", tmp_path / "board" / "index.html"
    assert render(results, reported, markdown).returncode == 0
    assert render(results, reported, page, "--format", "html").returncode == 0
    lines = markdown.read_text(encoding="utf-8").splitlines()
    text = page.read_text(encoding="utf-8")

    def unmarked(line: str) -> str:  # markdown heading -> its text
        return html.unescape(re.sub(r"\\(.)", r"\1", line.split(" ", 1)[1]))

    def texts(tag: str) -> list[str]:
        return [
            html.unescape(re.sub(r"<[^>]+>", "", found))
            for found in re.findall(rf"<{tag}[^>]*>(.*?)</{tag}>", text)
        ]

    assert texts("h3") == [unmarked(line) for line in lines if line.startswith("### ")]
    headings = texts("h2")
    for line in lines:
        if line.startswith("## "):
            label = unmarked(line).rsplit(" (", 1)[0]
            assert any(heading.startswith(label) for heading in headings), label
    assert "Ablation: sd-tiny, layer × t (mAP@all)" in texts("h3")
    ranking = text[text.index("Ranking (measured and reported)") :]
    assert ranking.index('data-kind="reported"') and 'class="tag reported"' in ranking
    assert 'class="chance" data-kind="chance"' in ranking and 'class="tag chance"' in ranking
    assert "[0.290, 0.310]" in text  # sd-tiny up1 t=50's mAP@all interval


@pytest.mark.slow
def test_sketch_text_runs_get_a_query_text_column(page_inputs, tmp_path: Path) -> None:
    results, reported = page_inputs
    page = tmp_path / "board" / "index.html"
    assert render(results, reported, page, "--format", "html").returncode == 0
    assert ">Query text<" not in page.read_text(encoding="utf-8")  # no sketch+text run: no column
    with_text = zs_run("clip-tiny", "embed", None, 0.36, 0.16, plugin="openclip")
    with_text.config["query_text"] = "caption"
    write_result(results / "synthetic", with_text, specs())
    assert render(results, reported, page, "--format", "html").returncode == 0
    text = page.read_text(encoding="utf-8")
    ranking = text.split("Ranking (measured and reported)")[1].split("</table>")[0]
    assert ">Query text<" in ranking and ranking.count(">caption</td>") == 1
    assert ranking.count(">sketch only</td>") == 7  # every other measured run


def test_strings_from_results_files_stay_text_in_the_page(page_inputs, tmp_path: Path) -> None:
    results, reported = page_inputs
    page = tmp_path / "board" / "index.html"
    assert render(results, reported, page, "--format", "html").returncode == 0
    text = page.read_text(encoding="utf-8")
    for hostile in (HOSTILE_IMG, HOSTILE_SCRIPT, HOSTILE_PROMPT, "<b>bold</b>"):
        assert hostile not in text
    assert "<img" not in text and "onload=" not in text.replace("onload=alert(3)&gt;", "")
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in text
    assert text.count("<script") == 1 and text.count("</script>") == 1


def test_inline_svg_keeps_the_drawing_and_drops_anything_active() -> None:
    hostile = (
        '<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd">'
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'viewBox="0 0 10 10" onload="alert(1)"><metadata><title>v9</title></metadata>'
        "<style>@import url(https://example.org/x.css); *{fill:red}</style>"
        '<defs><clipPath id="c1"><rect width="5" height="5"/></clipPath></defs>'
        '<g clip-path="url(#c1)" style="fill: #fff"><path d="M 0 0\nL 1 1" onclick="alert(2)"/>'
        '<use xlink:href="#c1"/><use href="https://example.org/sprite.svg#x"/>'
        '<image xlink:href="data:image/png;base64,\niVBORw0KGgo=" width="2" height="2"/>'
        '<image href="https://example.org/track.png"/><rect style="fill: url(https://example.org/p)"/>'
        "<script>alert(3)</script><foreignObject><div>x</div></foreignObject>"
        '<text x="1" y="2">a &lt;b&gt; &amp; c</text></g></svg>'
    )
    out = inline_svg(hostile, "fig1")
    for active in (
        "alert",
        "script",
        "foreignObject",
        "example.org",
        "<style",
        "metadata",
        "<!DOCTYPE",
        "<?xml",
    ):
        assert active not in out, active
    assert out.startswith('<svg viewBox="0 0 10 10">') and out.endswith("</svg>")
    assert '<clipPath id="fig1-c1">' in out and 'clip-path="url(#fig1-c1)"' in out
    assert '<use xlink:href="#fig1-c1">' in out and 'd="M 0 0 L 1 1"' in out
    assert 'xlink:href="data:image/png;base64,iVBORw0KGgo="' in out
    assert '<text x="1" y="2">a &lt;b&gt; &amp; c</text>' in out


def test_html_format_is_registered_by_the_plots_plugin() -> None:
    formats = json.loads(run_bench("list", "formats", "--json").stdout)["leaderboard_formats"]
    row = next(row for row in formats if row["id"] == "html")
    assert (row["plugin"], row["suffix"]) == ("plots", ".html")
    listed = run_bench("leaderboard", "--format")
    assert listed.returncode == 0 and "html" in listed.stdout


BROWSER_ACTIONS = Path(__file__).with_name("leaderboard_page_actions.js")


@pytest.mark.slow
def test_page_in_a_headless_browser(page_inputs, tmp_path: Path) -> None:
    if chromium() is None:
        if browser_required():
            pytest.fail("chromium is missing but BENCH_REQUIRE_BROWSER is set (.ci/run installs it)")
        pytest.skip("Debian's chromium is not installed (`apt-get install chromium`; .ci/run installs it)")
    results, reported = page_inputs
    page = tmp_path / "board" / "index.html"
    assert render(results, reported, page, "--format", "html").returncode == 0
    report = run_in_page(page, BROWSER_ACTIONS.read_text(encoding="utf-8"), tmp_path)
    assert report["errors"] == [] and report["alerts"] == []
    found = report["result"]
    initial = [float(value) for value in found["initial"]]
    assert initial == [
        0.45,
        0.35,
        0.3,
        0.28,
        0.26,
        0.24,
        0.22,
        0.2,
    ]  # ranked by mAP@all, the reported row too
    p100 = [float(value) for value in found["p100_first"]]
    assert p100 == sorted(p100, reverse=True) and found["p100_sort"] == "descending"  # best first
    assert [float(value) for value in found["p100_second"]] == sorted(p100)  # click again: reversed
    assert found["p100_first"] != found["initial"]
    assert found["backbones"][:2] == ["</script><script>alert(2)</script>", "<img src=x onerror=alert(1)>"]
    assert sorted(set(found["backbone_filter"])) == ["chance:null", "measured:sd-tiny"]
    assert found["backbone_filter"].count("measured:sd-tiny") == 4 and found["count"] == "4 of 8 rows shown"
    assert found["family_filter"] == ["measured:clip-tiny", "chance:null"]
    hidden = dict(item.rsplit(":", 1) for item in found["sections_hidden"])
    assert [hidden[key] for key in sorted(hidden)] == [
        "true",
        "false",
    ]  # synthetic hidden, synthetic-fg shown
    assert "synthetic:true" in found["pivot_hidden"] and "synthetic-fg:false" in found["pivot_hidden"]
    assert found["without_reported"] == 0
    assert found["hostile_texts"] >= 2 and HOSTILE_IMG in found["family_options"]
    assert found["images"] == 0 and found["scripts"] == 3  # the page's, and the test's two
    assert found["figures"] == 1 and found["active_in_figures"] == 0
