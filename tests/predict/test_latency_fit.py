"""draftfinder.predict.latency_fit: the llama.cpp/Metal constants fitted on draftbench, checked on rows left out."""

from __future__ import annotations

import statistics

import pytest

from draftfinder.predict import drafting
from draftfinder.predict import latency_fit as lf
from draftfinder.predict.engine_costs import LLAMACPP_METAL_FIT
from draftfinder.predict.estimator import SpeedupEstimator


@pytest.fixture(scope="module")
def rows():
    return lf.draftbench_rows()


def test_draftbench_rows_carry_shapes_formats_and_published_figures(rows):
    assert len(rows) == 441
    r = next(r for r in rows if r.row_id == "draftbench/qwen25-72b/72B Q8_0/0.5B Q8_0")
    assert (r.rate, r.baseline_tokens_per_s) == (0.7429, 6.45)
    assert r.speedup == pytest.approx(2.6605)
    assert r.target.weight_format == "q8_0" and r.target.tied_embeddings is False
    assert r.target.read_params == pytest.approx(72.7e9 - 8192 * 152064)
    assert r.draft.layers == 24 and r.draft.tied_embeddings is True
    assert {x.target_size for x in rows} == {"7B", "14B", "32B", "72B"}


def test_bench_predictions_are_the_estimators(rows):
    """The bench scores SpeedupEstimator itself: latency_fit's fast path must give the same speedup at K = 16."""
    pred, _ = lf.predict_draftbench(rows[::97])
    for p, r in zip(pred, rows[::97]):
        e = SpeedupEstimator.evaluate(r.target, r.draft, r.rate, engine="llama.cpp", device="m4-max",
                                      ctx=lf.DRAFTBENCH_CTX, max_k=16, acceptance_kind="rate", acceptance_k=16,
                                      draft_p_min=lf.DRAFTBENCH_P_MIN)
        assert e.speedup_by_k[16] == pytest.approx(p, rel=1e-9)
        back = drafting.acceptance_rate(e.acceptance_rate, drafting.DraftPolicy(16, 0.75))
        assert back == pytest.approx(r.rate, abs=1e-6)                            # the conversion round-trips


@pytest.mark.slow
def test_in_sample_stored_constants_equal_the_refit(rows):
    """IN-SAMPLE (the stored constants are this fit): checks they were copied from the current code's fit."""
    fit = lf.fit_llamacpp_metal(rows, fixed={"stop_link": 1.0})
    for k, v in LLAMACPP_METAL_FIT.items():
        assert fit.params[k] == pytest.approx(v, rel=2e-3, abs=2e-3), k


@pytest.mark.slow
def test_out_of_sample_quantized_targets_are_not_predicted_near_2x(rows):
    """OUT OF SAMPLE. Guards issue 10's finding: issue 9's model predicted ~1.8x for quantized targets whose real
    speedup is 1.0-1.3x. Fitted without any Q4_K_M target, the model predicts the Q4_K_M-target rows published at
    ≤ 1.3x within 15 % median and never above 1.3x."""
    train = [r for r in rows if r.target_quant != "Q4_K_M"]
    held = [r for r in rows if r.target_quant == "Q4_K_M" and r.speedup <= 1.3]
    fit = lf.fit_llamacpp_metal(train, fixed={"stop_link": 1.0})
    pred, _ = lf.predict_draftbench(held, fit.params)
    assert len(held) > 40
    assert max(pred) < 1.3
    assert statistics.median(abs(p / r.speedup - 1) for p, r in zip(pred, held)) < 0.15


@pytest.mark.slow
def test_out_of_sample_leave_the_largest_target_out(rows):
    """OUT OF SAMPLE: fitted on 7B-32B targets, the 72B rows (Q8_0 and Q4_K_M) within 15 % median."""
    fit = lf.fit_llamacpp_metal([r for r in rows if r.target_size != "72B"], fixed={"stop_link": 1.0})
    held = [r for r in rows if r.target_size == "72B"]
    pred, _ = lf.predict_draftbench(held, fit.params)
    assert statistics.median(abs(p / r.speedup - 1) for p, r in zip(pred, held)) < 0.15
