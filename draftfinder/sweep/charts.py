"""One self-contained HTML page of a sweep: plotly charts, the recommendation table, failures; works offline.

draftbench (``../shared/seeds/002``, "Understanding the Charts") draws three charts from a results file with
plotly.js from a CDN: throughput (baseline vs the best draft of each size, per target), speedup % vs baseline,
and a target × draft heatmap. This page draws the same three plus, when the results have them, acceptance and
speedup vs K and predicted vs measured speedup; plotly.js is embedded from the ``plotly`` Python package, so
the file opens with no network at all (a Content-Security-Policy forbids every fetch).

Safety: labels are user input. Text in HTML goes through :func:`html.escape`; data for plotly is JSON with
``<``, ``>`` and ``&`` written as ``\\u003c`` etc. (no string can close the ``<script>``), and labels inside it
are HTML-escaped too, because plotly renders a subset of HTML tags in labels and hover text.

For tests and CI the page reports on itself: ``<body data-plots="N">`` is the number of charts drawn,
``data-rendered="N"`` is set once plotly has drawn them all, and ``data-js-error`` is set by any script error,
rejected promise or CSP violation.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from draftfinder.errors import MissingDependencyError
from draftfinder.writer import write_text
from draftfinder.version import __version__
from draftfinder.sweep.recommend import (BAND_HEADER, BANDS_SOURCE, MIN_SPEEDUP, RECOMMEND_HEADER, band_row, baselines,
                        cell_speedup, fmt_k, fmt_pct, fmt_tps, normalize, number, rec_row, recommend, speed_bands)

PLOTLY_JS = ("package_data", "plotly.min.js")

# Prediction provenance (``prediction.provenance``) → how the page names it.
PREDICTION_LABELS = {
    "estimated": "estimated (α from our estimator)",
    "measured": "from measured α",
    "published": "from published α",
}

# draftbench's heatmap colours: red = slower than baseline, yellow = no gain, green = good speedup (zmid 0)
HEAT_COLORS = [[0.0, "#d73027"], [0.5, "#ffffbf"], [1.0, "#1a9850"]]

# plotly's default qualitative colours ("plotly" template colorway), pinned so a series keeps its colour across panels
SERIES_COLORS = ["#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692", "#B6E880", "#FF97FF",
                 "#FECB52"]

CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:")

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.8em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
.meta td:first-child { font-weight: 600; }
.note { color: #666; font-size: 0.9em; }
.df-plot { width: 100%; max-width: 1100px; height: 480px; }
.skip { color: #8a5a00; }
"""

ERROR_HOOK = """
(function () {
  function mark(e) {
    var b = document.body, m = String((e && (e.message || e.violatedDirective)) || e);
    var old = b.getAttribute('data-js-error');
    b.setAttribute('data-js-error', old ? old + ' | ' + m : m);
  }
  window.__dfError = mark;
  window.addEventListener('error', function (ev) { mark(ev.message || 'script error'); });
  window.addEventListener('unhandledrejection', function (ev) { mark(ev.reason); });
  document.addEventListener('securitypolicyviolation', function (ev) {
    mark('blocked by CSP: ' + ev.violatedDirective + ' ' + ev.blockedURI);
  });
})();
"""

DRAW = """
(function () {
  var figs = JSON.parse(document.getElementById('df-figures').textContent);
  if (typeof Plotly === 'undefined') { window.__dfError('plotly.js did not load'); return; }
  var jobs = figs.map(function (f) {
    try {
      return Plotly.newPlot(f.id, f.data, f.layout, f.config).then(
        function () { return true; }, function (e) { window.__dfError(e); return false; });
    } catch (e) { window.__dfError(e); return Promise.resolve(false); }
  });
  Promise.all(jobs).then(function (done) {
    document.body.setAttribute('data-rendered', String(done.filter(Boolean).length));
  });
})();
"""


# ---------------------------------------------------------------------------------------------------
# escaping
# ---------------------------------------------------------------------------------------------------

def _h(text: Any) -> str:
    """Text for HTML content or attributes."""
    return html.escape("" if text is None else str(text), quote=True)


def _p(text: Any) -> str:
    """Text for plotly labels / hover (plotly reads a few HTML tags and entities in them)."""
    return html.escape("" if text is None else str(text), quote=False)


def script_json(obj: Any) -> str:
    """JSON that is safe inside ``<script>``: no ``<``, ``>`` or ``&`` outside ``\\u`` escapes."""
    text = json.dumps(obj, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def plotly_js() -> str:
    """plotly.js from the installed ``plotly`` package (not imported: only its data file is read)."""
    spec = importlib.util.find_spec("plotly")
    path = None
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]).joinpath(*PLOTLY_JS)
    if path is None or not path.is_file():
        raise MissingDependencyError("plotly", "sweep charts")
    js = path.read_text(encoding="utf-8")
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)   # guard; plotly.min.js has none


# ---------------------------------------------------------------------------------------------------
# figures (plain dicts of plotly's JSON schema)
# ---------------------------------------------------------------------------------------------------

def _fmt_x(x: Optional[float]) -> str:
    return "?" if x is None else f"{x:.2f}x ({(x - 1) * 100:+.0f}%)"


def _pct(speedup: Optional[float]) -> Optional[float]:
    return None if speedup is None else round((speedup - 1.0) * 100.0, 2)


def _r(x: Optional[float], nd: int = 3) -> Optional[float]:
    return None if x is None else round(x, nd)


def _layout(title: str, **extra: Any) -> Dict[str, Any]:
    return {"title": {"text": title}, "margin": {"t": 60, "l": 70, "r": 30, "b": 90},
            "hovermode": "closest", **extra}


def _fig(div_id: str, data: List[Dict[str, Any]], layout: Dict[str, Any]) -> Dict[str, Any]:
    return {"id": div_id, "data": data, "layout": layout,
            "config": {"displaylogo": False, "responsive": True}}


def throughput_figure(recs, draft_labels) -> Optional[Dict[str, Any]]:
    """(a) per target: baseline tok/s and each draft's best-K tok/s (draftbench's throughput chart)."""
    targets = [_p(r.target) for r in recs]
    base_y = [_r(r.baseline_tokens_per_s, 2) for r in recs]
    data = [{"type": "bar", "name": "baseline (no draft)", "x": targets, "y": base_y,
             "hovertext": [f"{t}<br>baseline: {y} tok/s (measured)" for t, y in zip(targets, base_y)],
             "hoverinfo": "text"}]
    for label in draft_labels:
        y, text, hover = [], [], []
        for r, t in zip(recs, targets):
            d = next((d for d in r.drafts if d.draft == label), None)
            y.append(_r(d.tokens_per_s, 2) if d else None)
            text.append("" if d is None or d.k is None else f"K={d.k}")
            hover.append("" if d is None else
                         f"{t} + {_p(label)}, K={fmt_k(d.k)}<br>{d.tokens_per_s:.2f} tok/s (measured)"
                         f"<br>speedup {_fmt_x(d.speedup)}<br>acceptance {fmt_pct(d.acceptance_rate)}")
        data.append({"type": "bar", "name": _p(label), "x": targets, "y": y, "text": text,
                     "textposition": "auto", "hovertext": hover, "hoverinfo": "text"})
    if not any(v is not None for tr in data for v in tr["y"]):
        return None
    return _fig("plot-throughput", data, _layout(
        "Throughput: baseline vs each draft at its best K (measured tok/s, mean over requests)",
        barmode="group", yaxis={"title": {"text": "tok/s (measured)"}}))


def speedup_figure(recs, draft_labels) -> Optional[Dict[str, Any]]:
    """(b) speedup % vs baseline per draft (best K), one bar group per draft, one bar per target."""
    data = []
    for r in recs:
        y, hover = [], []
        for label in draft_labels:
            d = next((d for d in r.drafts if d.draft == label), None)
            y.append(_pct(d.speedup) if d else None)
            hover.append("" if d is None else f"{_p(r.target)} + {_p(label)}, K={fmt_k(d.k)}"
                         f"<br>speedup {_fmt_x(d.speedup)} (measured)")
        if any(v is not None for v in y):
            data.append({"type": "bar", "name": _p(r.target), "x": [_p(x) for x in draft_labels], "y": y,
                         "hovertext": hover, "hoverinfo": "text"})
    if not data:
        return None
    return _fig("plot-speedup", data, _layout(
        "Speedup vs baseline, each draft at its best K (measured, %)", barmode="group",
        yaxis={"title": {"text": "speedup % (measured)"}, "zeroline": True}))


def heatmap_figure(recs, draft_labels) -> Optional[Dict[str, Any]]:
    """(c) target × draft heatmap of speedup % (best K per pair); hover: tok/s, acceptance, K."""
    z, hover = [], []
    for r in recs:
        row, hrow = [], []
        for label in draft_labels:
            d = next((d for d in r.drafts if d.draft == label), None)
            row.append(_pct(d.speedup) if d else None)
            hrow.append("not measured" if d is None else
                        f"{_p(r.target)} + {_p(label)}<br>speedup {_fmt_x(d.speedup)}"
                        f"<br>{d.tokens_per_s:.2f} tok/s vs {fmt_tps(r.baseline_tokens_per_s)} baseline"
                        f"<br>acceptance {fmt_pct(d.acceptance_rate)}<br>best K={fmt_k(d.k)} (measured)")
        z.append(row)
        hover.append(hrow)
    if not any(v is not None for row in z for v in row):
        return None
    text = [["" if v is None else f"{v:+.0f}%" for v in row] for row in z]
    data = [{"type": "heatmap", "z": z, "x": [_p(x) for x in draft_labels], "y": [_p(r.target) for r in recs],
             "text": text, "texttemplate": "%{text}", "customdata": hover,
             "hovertemplate": "%{customdata}<extra></extra>", "colorscale": HEAT_COLORS, "zmid": 0,
             "colorbar": {"title": {"text": "speedup %"}}, "hoverongaps": False}]
    return _fig("plot-heatmap", data, _layout(
        "Speedup % for every target × draft, best K per pair (measured)",
        xaxis={"type": "category", "automargin": True},
        yaxis={"type": "category", "autorange": "reversed", "automargin": True}))


def k_figure(cells, bases) -> Optional[Dict[str, Any]]:
    """(d) acceptance rate (left) and speedup (right) vs K, one line per target + draft; needs ≥ 2 K values."""
    ok = [c for c in cells if c.get("draft") and c.get("status") == "ok" and number(c.get("mean_tps")) is not None
          and isinstance(c.get("k"), int) and not isinstance(c.get("k"), bool)]
    if len({c["k"] for c in ok}) < 2:
        return None
    series: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
    for c in ok:
        series.setdefault((str(c["target"]), str(c["draft"])), []).append(c)
    data = []
    for i, ((target, draft), cs) in enumerate(series.items()):
        cs.sort(key=lambda c: c["k"])
        ks = [c["k"] for c in cs]
        acc = [_r(number(c.get("acceptance_rate")), 4) for c in cs]
        spd = [_r(cell_speedup(c, bases.get(target)), 4) for c in cs]
        name = f"{_p(target)} + {_p(draft)}"
        hover = [f"{name}, K={c['k']}<br>{number(c['mean_tps']):.2f} tok/s<br>acceptance {fmt_pct(a)}"
                 f"<br>speedup {_fmt_x(s)} (measured)" for c, a, s in zip(cs, acc, spd)]
        common = {"type": "scatter", "mode": "lines+markers", "x": ks, "legendgroup": f"g{i}",
                  "hovertext": hover, "hoverinfo": "text", "connectgaps": False}
        data.append({**common, "name": name, "y": acc, "xaxis": "x", "yaxis": "y"})
        data.append({**common, "name": name, "y": spd, "xaxis": "x2", "yaxis": "y2", "showlegend": False})
    return _fig("plot-k", data, _layout(
        "Acceptance rate and speedup vs K (measured)",
        xaxis={"domain": [0, 0.45], "title": {"text": "K (draft tokens per step)"}, "dtick": 1},
        yaxis={"title": {"text": "acceptance rate (accepted / drafted)"}, "tickformat": ".0%"},
        xaxis2={"domain": [0.55, 1], "anchor": "y2", "title": {"text": "K"}, "dtick": 1},
        yaxis2={"anchor": "x2", "title": {"text": "speedup vs baseline (×)"}}))


def prediction_figure(cells, bases) -> Optional[Dict[str, Any]]:
    """(e) predicted vs measured speedup, one marker trace per prediction provenance, with y = x."""
    groups: Dict[str, Dict[str, List[Any]]] = {}
    lo, hi = None, None
    for c in cells:
        pred = c.get("prediction")
        if not c.get("draft") or c.get("status") != "ok" or not isinstance(pred, dict):
            continue
        px, my = number(pred.get("speedup")), cell_speedup(c, bases.get(str(c["target"])))
        if px is None or my is None:
            continue
        prov = str(pred.get("provenance") or "estimated")
        label = PREDICTION_LABELS.get(prov, prov)
        if pred.get("same_engine") is False:
            label += f", inputs from {pred.get('inputs_engine') or 'another engine'} (cell: {pred.get('cell_engine')})"
        g = groups.setdefault(label, {"x": [], "y": [], "hovertext": []})
        g["x"].append(_r(px, 4))
        g["y"].append(_r(my, 4))
        alpha = number(pred.get("alpha"))
        g["hovertext"].append(
            f"{_p(c['target'])} + {_p(c['draft'])}, K={fmt_k(c.get('k'))}<br>predicted {_fmt_x(px)} "
            f"(prediction: {_p(label)}; α={'?' if alpha is None else f'{alpha:.2f}'}, "
            f"method: {_p(pred.get('method') or '?')})<br>measured {_fmt_x(my)}")
        lo = min(x for x in (lo, px, my) if x is not None)
        hi = max(x for x in (hi, px, my) if x is not None)
    if not groups:
        return None
    pad = max(0.05, (hi - lo) * 0.08)
    ends = [_r(lo - pad, 4), _r(hi + pad, 4)]
    data = [{"type": "scatter", "mode": "lines", "name": "y = x (prediction exact)", "x": ends, "y": ends,
             "line": {"dash": "dash", "color": "#888"}, "hoverinfo": "skip"}]
    for label, g in groups.items():
        data.append({"type": "scatter", "mode": "markers", "name": f"prediction: {_p(label)}",
                     "marker": {"size": 10}, "hoverinfo": "text", **g})
    return _fig("plot-prediction", data, _layout(
        "Predicted vs measured speedup (x: prediction, provenance per point; y: measured)",
        xaxis={"title": {"text": "predicted speedup (×)"}}, yaxis={"title": {"text": "measured speedup (×)"}}))


def concurrency_figure(cells) -> Optional[Dict[str, Any]]:
    """(f) speedup vs concurrency (right; one line per target + draft + K) and aggregate tok/s vs concurrency
    (left; baselines dashed), from the cells' ``concurrency`` levels (:mod:`.concurrency`); needs a level > 1."""
    from draftfinder.sweep.concurrency import wanted_any

    data: List[Dict[str, Any]] = []
    ns: set = set()
    for i, c in enumerate(c for c in cells if wanted_any(c)):
        levels = sorted((lvl for lvl in c["concurrency"] if isinstance(lvl, dict) and lvl.get("status") == "ok"
                         and number(lvl.get("aggregate_tokens_per_s")) is not None), key=lambda lvl: lvl["n"])
        if not levels:
            continue
        xs = [lvl["n"] for lvl in levels]
        ns.update(xs)
        base = c.get("draft") is None
        name = f"{_p(c['target'])} " + ("(baseline)" if base else f"+ {_p(c['draft'])}" +
                                         (f" K={c['k']}" if c.get("k") is not None else ""))
        tps = [_r(number(lvl["aggregate_tokens_per_s"]), 2) for lvl in levels]
        hover = [f"{name}, N={lvl['n']}<br>{t} tok/s aggregate (measured)<br>TPOT "
                 f"{'?' if lvl.get('median_tpot_ms') is None else format(lvl['median_tpot_ms'], '.1f')} ms median"
                 f"<br>speedup {_fmt_x(number(lvl.get('speedup')))}" for lvl, t in zip(levels, tps)]
        color = SERIES_COLORS[i % len(SERIES_COLORS)]          # the same series, the same colour in both panels
        common = {"type": "scatter", "mode": "lines+markers", "x": xs, "legendgroup": f"c{i}", "hovertext": hover,
                  "hoverinfo": "text", "marker": {"color": color}}
        data.append({**common, "name": name, "y": tps, "xaxis": "x", "yaxis": "y",
                     "line": {"color": color, **({"dash": "dash"} if base else {})}})
        if not base:
            data.append({**common, "name": name, "y": [_r(number(lvl.get("speedup")), 4) for lvl in levels],
                         "line": {"color": color},
                         "xaxis": "x2", "yaxis": "y2", "showlegend": False, "meta": "speedup-vs-concurrency"})
    if len(ns) < 2:
        return None
    ticks = sorted(ns)
    axis = {"type": "log", "tickvals": ticks, "ticktext": [str(n) for n in ticks]}
    return _fig("plot-concurrency", data, _layout(
        "Aggregate throughput and speedup vs concurrency (measured; N simultaneous streams)",
        xaxis={**axis, "domain": [0, 0.45], "title": {"text": "concurrency N (simultaneous streams)"}},
        yaxis={"title": {"text": "aggregate tok/s (all streams, measured)"}},
        xaxis2={**axis, "domain": [0.55, 1], "anchor": "y2", "title": {"text": "concurrency N"}},
        yaxis2={"anchor": "x2", "title": {"text": "speedup vs baseline at the same N (×)"}}))


# ---------------------------------------------------------------------------------------------------
# the page
# ---------------------------------------------------------------------------------------------------

def _table(header: List[str], rows: List[List[str]], numeric: Tuple[int, ...] = ()) -> str:
    head = "".join(f"<th>{_h(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{_h(v)}</td>' if i in numeric else f"<td>{_h(v)}</td>"
                         for i, v in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _meta_html(meta: Dict[str, Any]) -> str:
    keys = ("name", "hardware", "backend", "model_family", "timestamp", "updated", "format")
    rows = [[k, meta.get(k)] for k in keys if meta.get(k) not in (None, "")]
    settings = meta.get("settings")
    if isinstance(settings, dict) and settings:
        rows.append(["settings", ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in settings.items())])
    if not rows:
        return '<p class="note">no metadata in the results file</p>'
    return '<table class="meta"><tbody>' + "".join(
        f"<tr><td>{_h(k)}</td><td>{_h(v)}</td></tr>" for k, v in rows) + "</tbody></table>"


def _problems_html(cells: List[Dict[str, Any]]) -> str:
    bad = [c for c in cells if c.get("status") in ("failed", "flagged")]
    if not bad:
        return '<p class="note">none: every cell ran and drafted.</p>'
    rows = [[c.get("target"), c.get("draft") or "baseline", fmt_k(c.get("k")), c.get("status"),
             c.get("error") or c.get("flag") or "-"] for c in bad]
    return _table(["target", "draft", "K", "status", "error / flag"], rows)


def build_chart_html(results: Any) -> str:
    """The whole page for a :class:`~.results.SweepResults` or a results dict (draftfinder or draftbench)."""
    meta, cells = normalize(results)
    recs = recommend(results)
    bases = baselines(cells)
    draft_labels: List[str] = []
    for c in cells:
        if c.get("draft") and str(c["draft"]) not in draft_labels and any(
                d.draft == str(c["draft"]) for r in recs for d in r.drafts):
            draft_labels.append(str(c["draft"]))

    plots = [
        ("a", "Throughput", throughput_figure(recs, draft_labels), "no successful cell with a tok/s figure"),
        ("b", "Speedup vs baseline", speedup_figure(recs, draft_labels),
         "no draft cell with a baseline to compare with"),
        ("c", "Target × draft heatmap", heatmap_figure(recs, draft_labels),
         "no draft cell with a baseline to compare with"),
        ("d", "Acceptance and speedup vs K", k_figure(cells, bases), "fewer than two K values were swept"),
        ("e", "Predicted vs measured speedup", prediction_figure(cells, bases),
         "no successful draft cell carries a prediction"),
        ("f", "Speedup vs concurrency", concurrency_figure(cells),
         "no cell was measured at a concurrency above 1 (settings.concurrency)"),
    ]
    figures = [f for _, _, f, _ in plots if f is not None]
    sections = []
    for letter, title, fig, why in plots:
        if fig is None:
            sections.append(f'<h2>{_h(title)}</h2><p class="skip" data-skipped="{letter}">'
                            f"not drawn: {_h(why)}.</p>")
        else:
            sections.append(f'<h2>{_h(title)}</h2><div class="df-plot" id="{fig["id"]}"></div>')

    rec_rows = [rec_row(r) for r in recs]
    title = " · ".join(str(meta[k]) for k in ("name", "hardware", "backend") if meta.get(k)) or "sweep"
    js = plotly_js()
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f'<meta name="generator" content="draftfinder {_h(__version__)}">',
        f"<title>draftfinder sweep: {_h(title)}</title>",
        f"<style>{STYLE}</style></head>",
        f'<body data-plots="{len(figures)}">',
        f"<script>{ERROR_HOOK}</script>",
        f"<h1>draftfinder sweep: {_h(title)}</h1>",
        _meta_html(meta),
        '<p class="note">Provenance: every tok/s, speedup, acceptance and K figure on this page is '
        "<b>measured</b> by the sweep on the hardware above (tok/s = mean over requests; speedup = draft "
        "tok/s ÷ the same target's baseline tok/s; acceptance = accepted ÷ drafted). Predictions are labelled "
        "with their own provenance (<i>estimated</i>, <i>from measured α</i>, <i>from published α</i>).</p>",
        "<h2>Recommended draft per target</h2>",
        f'<p class="note">Best K = the K with the highest measured tok/s; a draft is recommended only above '
        f"{(MIN_SPEEDUP - 1) * 100:+.0f}% ({MIN_SPEEDUP:.2f}×; less is within run-to-run noise). "
        "Only cells with status ok count.</p>",
        _table([h + (" (measured)" if h in ("baseline tok/s", "draft tok/s", "speedup", "acceptance") else "")
                for h in RECOMMEND_HEADER], rec_rows, numeric=(1, 3, 4, 5, 6, 7))
        if recs else '<p class="skip">no cells in the results.</p>',
        "<h3>By target speed</h3>",
        f'<p class="note">Bands and last column from {_h(BANDS_SOURCE)} (published, other hardware); the rest '
        "measured here.</p>",
        _table(BAND_HEADER, [band_row(b) for b in speed_bands(recs)], numeric=(3,)),
        "<h2>Failed and flagged cells</h2>",
        _problems_html(cells),
        *sections,
        f'<p class="note">Written by draftfinder {_h(__version__)}; charts by plotly.js, embedded (MIT licence).</p>',
        f"<script>{js}</script>",
        f'<script type="application/json" id="df-figures">{script_json(figures)}</script>',
        f"<script>{DRAW}</script>",
        "</body></html>",
        "",
    ])


def write_chart(results: Any, path: Any) -> Path:
    """Render :func:`build_chart_html` and write it atomically to ``path``; returns the path written."""
    return write_text(path, build_chart_html(results), flag="--chart")
