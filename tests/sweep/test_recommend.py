"""draftfinder.sweep.recommend: best draft / K per target, verdicts, speed bands, the terminal table.

The sweep built here (also used by test_sweep_charts.py) is small but realistic: 2 targets, a baseline and
2 drafts × K ∈ {2, 4, 8} each, one failed cell and one flagged cell, both carrying a tok/s figure that would
win if they were (wrongly) counted. The draftbench file is the example of draftbench's README
(``../shared/seeds/002``, "Results Format").
"""

from __future__ import annotations

import copy
import json

import pytest

from draftfinder.errors import UsageError
from draftfinder.sweep.recommend import (MIN_SPEEDUP, Recommendation, band_of, format_table, normalize,
                                         recommend, speed_bands)
from draftfinder.sweep.results import SweepResults

BIG, SMALL = "SmolLM2-1.7B", "SmolLM2-360M"
D135, NGRAM = "SmolLM2-135M", "ngram"


def cell(target, draft, k, tps, acc=None, *, status="ok", draft_type="model", prediction=None, **extra):
    c = {"target": target, "draft": draft, "k": k, "draft_type": None if draft is None else draft_type,
         "status": status, "error": None, "flag": None, "mean_tps": tps,
         "median_tps": None if tps is None else tps * 1.01, "mean_ttft": 0.12, "mean_total_time": 6.4,
         "acceptance_rate": acc, "speedup": None, "tokens_per_step": None, "prediction": prediction,
         "runs": [{"run": 1, "prompt_id": "p1", "tokens": 64, "tps": tps}]}
    c.update(extra)
    return c


def pred(speedup, alpha, k, provenance="estimated"):
    return {"speedup": speedup, "alpha": alpha, "k": k, "provenance": provenance,
            "method": "Leviathan et al. 2023 eq. 1 with c from parameter ratio"}


def sweep_dict():
    """2 targets × (baseline + 2 drafts × 3 K); one failed, one flagged cell."""
    cells = [
        cell(BIG, None, None, 10.0),
        cell(BIG, D135, 2, 12.0, 0.70, prediction=pred(1.35, 0.70, 2)),
        cell(BIG, D135, 4, 14.5, 0.62, prediction=pred(1.55, 0.70, 4, "measured")),
        cell(BIG, D135, 8, 13.0, 0.50, prediction=pred(1.40, 0.70, 8, "published")),
        cell(BIG, NGRAM, 2, 10.5, 0.40, draft_type="ngram"),
        # failed half-way: its partial tok/s would be the best of the target if it were counted
        cell(BIG, NGRAM, 4, 99.0, 0.90, status="failed", draft_type="ngram",
             error="engine crashed: out of memory"),
        cell(BIG, NGRAM, 8, 9.8, 0.30, draft_type="ngram"),
        cell(SMALL, None, None, 32.0),
        cell(SMALL, D135, 2, 31.0, 0.66, prediction=pred(1.10, 0.66, 2)),
        cell(SMALL, D135, 4, 30.0, 0.58, prediction=pred(1.05, 0.66, 4)),
        # flagged: the backend ran but did not draft, so its tok/s is the baseline's, not a draft's
        cell(SMALL, D135, 8, 50.0, None, status="flagged", flag="backend reported 0 drafted tokens"),
        cell(SMALL, NGRAM, 2, 32.5, 0.35, draft_type="ngram"),      # +1.6%: inside the 2% margin
        cell(SMALL, NGRAM, 4, 29.0, 0.31, draft_type="ngram"),
        cell(SMALL, NGRAM, 8, 25.0, 0.22, draft_type="ngram"),
    ]
    return {"name": "zoo-cpu", "hardware": "cpu-2core", "backend": "engine", "model_family": "SmolLM2",
            "settings": {"runs": 1, "max_tokens": 64, "temperature": 0.0, "k": [2, 4, 8]},
            "timestamp": "2026-11-24T10:00:00+00:00", "format": "draftfinder-sweep/1", "results": cells}


# draftbench README, "Results Format" (settings elided there; empty here)
DRAFTBENCH = {
    "timestamp": "2026-02-05T01:18:17.066992+00:00",
    "name": "qwen25-72b",
    "hardware": "rtx4090-24gb",
    "backend": "llamacpp",
    "model_family": "Qwen2.5",
    "settings": {},
    "results": [
        {"target": "72B Q8_0", "draft": None, "mean_tps": 5.93, "median_tps": 6.05, "mean_ttft": 0.901,
         "mean_total_time": 87.34, "acceptance_rate": None},
        {"target": "72B Q8_0", "draft": "3B Q4_K_M", "mean_tps": 10.56, "median_tps": 10.06, "mean_ttft": 0.671,
         "mean_total_time": 49.93, "acceptance_rate": 0.6888},
    ],
}


def by_target(recs):
    return {r.target: r for r in recs}


def test_best_draft_and_k_per_target():
    recs = by_target(recommend(sweep_dict()))
    big = recs[BIG]
    assert (big.best_draft, big.best_k, big.best_tokens_per_s) == (D135, 4, 14.5)
    assert big.baseline_tokens_per_s == 10.0
    assert big.speedup == pytest.approx(1.45)
    assert big.acceptance_rate == 0.62
    assert big.verdict == "use SmolLM2-135M K=4" and big.recommended
    # every draft at its best K, best first: ngram's best is K=2 (K=4 failed)
    assert [(d.draft, d.k, d.ks_tried) for d in big.drafts] == [(D135, 4, 3), (NGRAM, 2, 2)]
    assert big.drafts[0].prediction["provenance"] == "measured"


def test_failed_and_flagged_cells_never_win():
    """Regression: a failed cell's partial tok/s (99) and a flagged cell's non-drafting tok/s (50) must not count."""
    recs = by_target(recommend(sweep_dict()))
    assert recs[BIG].best_tokens_per_s == 14.5
    assert (recs[BIG].cells_considered, recs[BIG].cells_skipped) == (5, 1)
    assert recs[SMALL].best_tokens_per_s == 32.5
    assert (recs[SMALL].cells_considered, recs[SMALL].cells_skipped) == (5, 1)


def test_gain_inside_margin_is_not_recommended():
    small = by_target(recommend(sweep_dict()))[SMALL]
    assert (small.best_draft, small.best_k) == (NGRAM, 2)
    assert small.speedup == pytest.approx(32.5 / 32.0)
    assert 1.0 < small.speedup <= MIN_SPEEDUP
    assert small.verdict == "not recommended: no draft beat the baseline"
    assert not small.recommended


def test_every_draft_slower_than_baseline():
    data = sweep_dict()
    data["results"] = [c for c in data["results"] if c["target"] == SMALL and c["draft"] != NGRAM]
    (rec,) = recommend(data)
    assert (rec.best_draft, rec.best_k, rec.speedup) == (D135, 2, pytest.approx(31.0 / 32.0))
    assert rec.verdict == "not recommended: no draft beat the baseline"


def test_draftbench_file_loaded_from_disk(tmp_path):
    path = tmp_path / "draftbench.json"
    path.write_text(json.dumps(DRAFTBENCH))
    (rec,) = recommend(SweepResults.load(path))
    assert (rec.target, rec.best_draft, rec.best_k) == ("72B Q8_0", "3B Q4_K_M", None)
    assert rec.speedup == pytest.approx(10.56 / 5.93)           # no "speedup" field: computed from the baseline
    assert rec.acceptance_rate == 0.6888
    assert rec.verdict == "use 3B Q4_K_M"                      # no K: llama-server chose it
    assert recommend(DRAFTBENCH)[0] == rec                      # the plain dict gives the same answer


def test_stored_speedup_used_without_baseline():
    data = {"results": [cell("T", None, None, None, status="failed", error="server did not start"),
                        cell("T", "D", 4, 20.0, 0.6, speedup=1.3)]}
    (rec,) = recommend(data)
    assert rec.baseline_tokens_per_s is None
    assert rec.speedup == 1.3 and rec.verdict == "use D K=4"
    assert rec.cells_skipped == 1


def test_no_baseline_no_speedup_gives_no_verdict():
    (rec,) = recommend({"results": [cell("T", "D", 4, 20.0)]})
    assert rec.speedup is None and rec.verdict == "no verdict: no baseline to compare with"
    (rec,) = recommend({"results": [cell("T", None, None, 20.0), cell("T", "D", 4, 1.0, status="failed")]})
    assert rec.best_draft is None and rec.verdict == "no verdict: no draft cell succeeded"


def test_input_is_not_modified_and_bad_input_is_refused():
    data = copy.deepcopy(DRAFTBENCH)
    recommend(data)
    assert data == DRAFTBENCH
    meta, cells = normalize(data)
    assert meta["name"] == "qwen25-72b" and cells[0]["status"] == "ok" and cells[0]["k"] is None
    with pytest.raises(UsageError, match="no 'results' list"):
        recommend({"name": "x"})


def test_to_dict_is_json():
    d = recommend(sweep_dict())[0].to_dict()
    assert json.loads(json.dumps(d))["verdict"] == "use SmolLM2-135M K=4"
    assert d["provenance"] == "measured" and d["speedup_pct"] == pytest.approx(45.0)
    assert isinstance(recommend(sweep_dict())[0], Recommendation)


@pytest.mark.parametrize("tps, band", [(0.5, "< 8 tok/s"), (7.99, "< 8 tok/s"), (8.0, "8-15 tok/s"),
                                       (14.9, "8-15 tok/s"), (15.0, "15-30 tok/s"), (30.0, "> 30 tok/s"),
                                       (500.0, "> 30 tok/s")])
def test_band_boundaries(tps, band):
    assert band_of(tps) == band


def test_speed_bands():
    recs = recommend(sweep_dict()) + recommend(DRAFTBENCH)
    bands = {b.label: b for b in speed_bands(recs)}
    assert list(bands) == ["< 8 tok/s", "8-15 tok/s", "15-30 tok/s", "> 30 tok/s"]
    slow, mid, fast, fastest = bands.values()
    assert (slow.targets, slow.best_draft, slow.verdict) == (["72B Q8_0"], "3B Q4_K_M", "use 3B Q4_K_M")
    assert (mid.targets, mid.best_draft, mid.verdict) == ([BIG], D135, "use SmolLM2-135M")
    assert mid.mean_speedup == pytest.approx(1.45) and mid.targets_with_draft == 1
    assert (fast.targets, fast.best_draft, fast.verdict) == ([], None, "no target in this band")
    assert (fastest.targets, fastest.best_draft) == ([SMALL], NGRAM)
    assert fastest.verdict == "not recommended: no draft beat the baseline"
    assert fastest.published == "not recommended (overhead > gains)"
    assert json.dumps(fastest.to_dict())                        # inf bound becomes null


def test_band_best_draft_is_mean_over_targets():
    data = {"results": [cell("A", None, None, 10.0), cell("A", "X", 4, 16.0), cell("A", "Y", 4, 15.0),
                        cell("B", None, None, 12.0), cell("B", "X", 4, 12.0), cell("B", "Y", 4, 16.8)]}
    (_, mid, _, _) = speed_bands(recommend(data))
    # X: (1.6 + 1.0) / 2 = 1.3; Y: (1.5 + 1.4) / 2 = 1.45
    assert (mid.best_draft, mid.mean_speedup, mid.targets_with_draft) == ("Y", pytest.approx(1.45), 2)


EXPECTED_TABLE = """\
Recommended draft per target (all figures measured by this sweep: tok/s = mean over requests,
speedup = draft tok/s / baseline tok/s, acceptance = accepted / drafted; best K = highest tok/s;
recommended only above +2%, i.e. 1.02x)

target        baseline tok/s  best draft    K  draft tok/s         speedup  acceptance           cells  verdict
------------  --------------  ------------  -  -----------  --------------  ----------  --------------  -------------------------------------------
SmolLM2-1.7B           10.00  SmolLM2-135M  4        14.50  1.45x (+45.0%)         62%  5 (+1 skipped)  use SmolLM2-135M K=4
SmolLM2-360M           32.00  ngram         2        32.50   1.02x (+1.6%)         35%  5 (+1 skipped)  not recommended: no draft beat the baseline
"""


def test_format_table_exact():
    text = format_table(recommend(sweep_dict()), bands=False)
    assert text == EXPECTED_TABLE


def test_format_table_with_bands():
    text = format_table(recommend(sweep_dict()))
    assert text.startswith(EXPECTED_TABLE)
    lines = text.splitlines()
    i = lines.index(next(l for l in lines if l.startswith("baseline speed")))
    assert lines[i + 2].startswith("< 8 tok/s ") and "no target in this band" in lines[i + 2]
    assert lines[i + 3].startswith("8-15 tok/s") and "use SmolLM2-135M" in lines[i + 3]
    assert "published" in text and "draftbench README" in text
    # columns line up: each row's verdict starts under the "verdict" header
    col = lines[i].index("verdict")
    assert lines[i + 2][col:].startswith("no target in this band")
    assert lines[i + 5][col:].startswith("not recommended: no draft beat the baseline")


def test_format_table_cleans_control_characters():
    data = {"results": [cell("evil\x1b[31m\nT", None, None, 5.0), cell("evil\x1b[31m\nT", "D", 2, 9.0)]}
    text = format_table(recommend(data), bands=False)
    assert "\x1b" not in text and "evil?[31m?T" in text


def test_numeric_labels_are_strings():
    """Regression: a YAML config can give labels as numbers; they must still pair with their baseline."""
    (rec,) = recommend({"results": [cell(7, None, None, 10.0), cell(7, 135, 4, 12.0)]})
    assert (rec.target, rec.best_draft, rec.speedup) == ("7", "135", pytest.approx(1.2))
