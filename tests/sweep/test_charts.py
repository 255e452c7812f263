"""draftfinder.sweep.charts: one offline HTML page; labels escaped; every chart really drawn by a browser.

The browser test runs Debian's ``chromium`` headless on the written file (``--dump-dom``) and reads back the
page's self-report on ``<body>``: ``data-plots`` (charts expected), ``data-rendered`` (charts plotly drew) and
``data-js-error`` (any script error, rejected promise or Content-Security-Policy violation, i.e. any attempt to
reach the network). It skips when chromium is missing, except under ``CI`` (CI installs it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from draftfinder.errors import MissingDependencyError, OutputError
from draftfinder.sweep.charts import build_chart_html, script_json, write_chart
from draftfinder.sweep.results import SweepResults
from tests.sweep.test_recommend import DRAFTBENCH, cell, sweep_dict

EVIL = "</script><img src=x onerror=alert(1)>"
# sets an attribute if it ever runs, so the browser test can see it
EVIL_MARK = "</script><img src=x onerror=\"document.body.setAttribute('data-pwned','1')\"><b>bold</b>&amp;%{z}"
PLOT_IDS = ["plot-throughput", "plot-speedup", "plot-heatmap", "plot-k", "plot-prediction"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def evil_sweep(label=EVIL):
    data = sweep_dict()
    data["name"] = label
    data["results"] += [cell(label, None, None, 5.0),
                        cell(label, label, 2, 9.0, 0.5, prediction={"speedup": 1.5, "alpha": 0.5, "k": 2,
                                                                     "provenance": label, "method": label}),
                        cell(label, label, 4, 1.0, status="failed", error=label)]
    return data


def concurrency_sweep(label=EVIL):
    """A sweep measured at concurrency 1 and 4 (tests/sweep/test_concurrency.py), with ``label`` as the draft."""
    from draftfinder.sweep.concurrency import refresh_levels
    from tests.sweep.test_concurrency import levels_sweep

    data = levels_sweep(label_b=label)
    refresh_levels(data["results"], greedy=True)
    return data


class Elements(HTMLParser):
    """Every element: (tag, attrs, id of the enclosing plot div or None), and script bodies."""

    def __init__(self, plot_ids=()):
        super().__init__(convert_charrefs=True)
        self.plot_ids, self.stack, self.elements, self.scripts = set(plot_ids), [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        plot = next((p for _, p in reversed(self.stack) if p), None)
        if attrs.get("id") in self.plot_ids:
            plot = attrs["id"]
        self.elements.append((tag, attrs, plot))
        if tag == "script":
            self.scripts.append("")
        if tag not in VOID:
            self.stack.append((tag, plot if attrs.get("id") in self.plot_ids else None))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] == "script":
            self.scripts[-1] += data


def parse(text, plot_ids=()):
    p = Elements(plot_ids)
    p.feed(text)
    p.close()
    return p


def body_attrs(text):
    return next(attrs for tag, attrs, _ in parse(text).elements if tag == "body")


# --- the page as written ------------------------------------------------------------------------------

def test_page_is_self_contained():
    page = build_chart_html(sweep_dict())
    doc = parse(page)
    for tag, attrs, _ in doc.elements:
        assert "src" not in attrs or tag not in ("script", "img", "iframe"), (tag, attrs)
        assert tag != "link", attrs                                   # no stylesheets or fonts from anywhere
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=", page, re.I)
    # plotly.js is inline, in full (its code names URLs, e.g. map tiles, that our traces never use; the CSP
    # below would block them anyway); nothing else on the page names any URL
    plotly = next(s for s in doc.scripts if s.lstrip().startswith("/**\n* plotly.js v"))
    assert len(plotly) > 1_000_000
    rest = page.replace(plotly, "")
    assert "http:" not in rest and "https:" not in rest and "//cdn" not in rest and "@import" not in rest
    csp = next(a["content"] for t, a, _ in doc.elements if a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp


def test_plot_count_and_skipped_plots():
    page = build_chart_html(sweep_dict())
    assert body_attrs(page)["data-plots"] == "5"
    assert all(f'id="{p}"' in page for p in PLOT_IDS)
    figures = json.loads(parse(page).scripts[-2])                     # the df-figures JSON
    assert [f["id"] for f in figures] == PLOT_IDS

    page = build_chart_html(DRAFTBENCH)                               # one K (none), no predictions
    assert body_attrs(page)["data-plots"] == "3"
    assert 'data-skipped="d"' in page and 'data-skipped="e"' in page and 'data-skipped="f"' in page
    assert "fewer than two K values were swept" in page

    page = build_chart_html({"name": "empty", "results": []})
    assert body_attrs(page)["data-plots"] == "0"
    assert page.count("data-skipped=") == 6


def test_page_content_and_provenance():
    page = build_chart_html(sweep_dict())
    for text in ("zoo-cpu", "cpu-2core", "SmolLM2", "2026-11-24T10:00:00+00:00",      # header
                 "use SmolLM2-135M K=4", "not recommended: no draft beat the baseline",  # recommendations
                 "engine crashed: out of memory", "backend reported 0 drafted tokens",  # failed / flagged
                 "baseline tok/s (measured)", "published", "from measured α", "estimated"):
        assert text in page, text
    figures = {f["id"]: f for f in json.loads(parse(page).scripts[-2])}
    names = [t["name"] for t in figures["plot-prediction"]["data"]]
    assert names == ["y = x (prediction exact)", "prediction: estimated (α from our estimator)",
                     "prediction: from measured α", "prediction: from published α"]
    heat = figures["plot-heatmap"]["data"][0]
    assert heat["y"] == ["SmolLM2-1.7B", "SmolLM2-360M"] and heat["x"] == ["SmolLM2-135M", "ngram"]
    assert heat["z"] == [[45.0, 5.0], [-3.12, 1.56]]
    assert "acceptance 62%" in heat["customdata"][0][0] and "best K=4" in heat["customdata"][0][0]


def test_malicious_labels_are_escaped():
    page = build_chart_html(evil_sweep())
    assert "<img" not in page.lower()
    assert "</script><img" not in page
    doc = parse(page)
    assert [t for t, _, _ in doc.elements].count("script") == 4      # hook, plotly, figures, draw: no more
    assert not any(t == "img" for t, _, _ in doc.elements)
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page    # shown as text in the tables
    figures = json.loads(doc.scripts[-2])                             # and as text (entities) inside plotly
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in figures[0]["data"][0]["x"]


def test_script_json_cannot_close_a_script():
    text = script_json({"a": "</script><!-- & -->", "b": "\u2028"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script><!-- & -->", "b": "\u2028"}


def test_write_chart_from_results_file(tmp_path):
    src = tmp_path / "draftbench.json"
    src.write_text(json.dumps(DRAFTBENCH))
    with pytest.raises(OutputError, match="does not exist"):                # --chart creates no folder
        write_chart(SweepResults.load(src), tmp_path / "out" / "chart.html")
    assert not (tmp_path / "out").exists()
    (tmp_path / "out").mkdir()
    out = write_chart(SweepResults.load(src), tmp_path / "out" / "chart.html")
    assert out == tmp_path / "out" / "chart.html"
    assert out.read_text(encoding="utf-8") == build_chart_html(DRAFTBENCH)
    assert [p.name for p in out.parent.iterdir()] == ["chart.html"]    # no temp file left behind


def test_missing_plotly_names_the_fix(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "plotly" else real(name, *a))
    with pytest.raises(MissingDependencyError) as err:
        build_chart_html(DRAFTBENCH)
    assert "plotly" in str(err.value) and err.value.hint == "pip install plotly"


# --- in a real browser ----------------------------------------------------------------------------------

def chromium():
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing under CI: apt-get install -y chromium")
        pytest.skip("chromium not installed (apt-get install -y chromium); the browser test needs it")
    return path


def dump_dom(html_path: Path, profile: Path) -> str:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
           "--virtual-time-budget=10000", "--dump-dom", html_path.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0 and "<body" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout


# (the malicious-label sweep holds the whole normal sweep too: one browser start, ~3.5 s, covers both)
@pytest.mark.parametrize("name, data, plots", [
    ("draftbench", lambda: DRAFTBENCH, 3),
    ("sweep-with-malicious-labels", lambda: evil_sweep(EVIL_MARK), 5),
    ("concurrency-with-malicious-labels", lambda: concurrency_sweep(EVIL_MARK), 4),
])
def test_every_plot_renders_in_chromium(tmp_path, name, data, plots):
    page = write_chart(data(), tmp_path / f"{name}.html")
    dom = dump_dom(page, tmp_path / "profile")
    body = body_attrs(dom)
    assert "data-js-error" not in body, body["data-js-error"]
    assert "data-pwned" not in body                                   # the label's onerror never ran
    assert body["data-plots"] == str(plots) and body.get("data-rendered") == str(plots), body
    doc = parse(dom, PLOT_IDS + ["plot-concurrency"])
    assert not any(t == "img" for t, _, _ in doc.elements)
    drawn = {plot for _, attrs, plot in doc.elements if plot and "main-svg" in (attrs.get("class") or "").split()}
    expected = {f["id"] for f in json.loads(parse(page.read_text()).scripts[-2])}
    assert len(expected) == plots and drawn == expected
    # each chart drew its marks: bars (a, b), heatmap image (c), lines (d), markers (e)
    kinds = {plot: set() for plot in expected}
    for tag, attrs, plot in doc.elements:
        if plot:
            kinds[plot].update((attrs.get("class") or "").split())
    assert "bars" in kinds["plot-throughput"] and "bars" in kinds["plot-speedup"]
    assert "hm" in kinds["plot-heatmap"]
    if plots == 5:
        assert "js-line" in kinds["plot-k"] and "points" in kinds["plot-prediction"]
    if "plot-concurrency" in expected:                                # speedup and tok/s vs concurrency: lines
        assert "js-line" in kinds["plot-concurrency"] and "points" in kinds["plot-concurrency"]
