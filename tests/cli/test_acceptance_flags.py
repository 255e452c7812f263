"""``--acceptance-kind alpha|rate|al`` (with ``--acceptance-k``, ``--acceptance-drafted``) on ``estimate``, and
``performance.acceptance_kind`` in find's config — through ``draftfinder.cli.main.main``.

Hand values (see tests/predict/test_acceptance_kinds.py): α = 0.8 at K = 4 gives AL = 1 + .8 + .64 + .512 +
.4096 = 3.3616 and accepted ÷ drafted = 2.3616 / 4 = 0.5904; at K = 1 accepted ÷ drafted is α itself.
"""

from __future__ import annotations

import json

import pytest

from draftfinder.cli.main import main

BASE = ["estimate", "--target-params", "7B", "--target-layers", "28", "--draft-params", "500M",
        "--draft-layers", "24", "--hardware", "a100-80gb", "--max-k", "8"]


def est_json(capsys, *extra):
    code = main(BASE + list(extra) + ["--format", "json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def fails(capsys, *extra, fmt=None):
    argv = BASE + list(extra) + (["--format", fmt] if fmt else [])
    code = main(argv)
    out = capsys.readouterr()
    assert code == 2, (code, out.err)
    assert out.err.count("\n") == 1 and "Traceback" not in out.err
    return out


@pytest.mark.parametrize("value,kind,k,alpha", [("0.5904", "rate", "4", 0.8), ("3.3616", "al", "4", 0.8),
                                                 ("0.7", "rate", "1", 0.7), ("1.7", "al", "1", 0.7),
                                                 ("70%", "alpha", None, 0.7)])
def test_each_kind_becomes_the_same_alpha(capsys, value, kind, k, alpha):
    """Guards issue 10 §3: before, --acceptance was always α — a llama.cpp accepted/drafted of 0.5904 at K = 4
    was read as α = 0.5904 instead of 0.8."""
    extra = ["--acceptance", value, "--acceptance-kind", kind] + (["--acceptance-k", k] if k else [])
    d = est_json(capsys, *extra)
    assert d["acceptance_rate"] == pytest.approx(alpha, abs=1e-6)


def test_all_three_kinds_printed_and_labelled(capsys):
    d = est_json(capsys, "--acceptance", "0.5904", "--acceptance-kind", "rate", "--acceptance-k", "4", "--measured")
    kinds, k = d["acceptance_kinds"], d["recommended_k"]
    assert kinds["k"] == k
    assert kinds["given"]["value"] == pytest.approx(0.5904)
    assert kinds["given"]["kind"] == "rate" and kinds["given"]["k"] == 4 and kinds["given"]["source"] == "measured"
    # α comes from the i.i.d. inversion of a measured figure: estimated, saying from what
    assert kinds["alpha"]["source"] == "estimated" and "0.5904" in kinds["alpha"]["method"]
    assert d["provenance"]["acceptance_rate"]["source"] == "estimated"
    a = kinds["alpha"]["value"]
    assert kinds["al"]["value"] == pytest.approx(sum(a ** j for j in range(k + 1)), abs=1e-6)
    expected = "measured" if k == 4 else "estimated"        # the given K: counting; any other K: the i.i.d. model
    assert kinds["rate"]["source"] == kinds["al"]["source"] == expected
    code = main(BASE + ["--acceptance", "0.5904", "--acceptance-kind", "rate", "--acceptance-k", "4", "--measured"])
    text = capsys.readouterr().out
    assert code == 0
    assert "acceptance α 0.800" in text and "accepted/drafted " in text and f"tokens/pass at K={k}" in text
    assert "given: accepted/drafted 0.5904 at K=4  [measured" in text


def test_given_figure_at_the_recommended_k_keeps_its_source(capsys):
    """rate ↔ AL at the K measured is counting, not a model: both stay measured; α is estimated."""
    code = main(BASE[:-1] + ["1", "--acceptance", "0.5", "--acceptance-kind", "rate", "--acceptance-k", "1",
                             "--measured", "--format", "json"])            # --max-k 1: the recommended K is 1
    d = json.loads(capsys.readouterr().out)
    assert code == 0 and d["recommended_k"] == 1
    kinds = d["acceptance_kinds"]
    assert kinds["rate"]["source"] == kinds["al"]["source"] == "measured"
    assert kinds["rate"]["value"] == 0.5 and kinds["al"]["value"] == pytest.approx(1.5)
    assert kinds["alpha"]["value"] == pytest.approx(0.5) and kinds["alpha"]["source"] == "estimated"


def test_alpha_and_prior_are_labelled(capsys):
    d = est_json(capsys, "--acceptance", "0.7", "--published")
    assert d["acceptance_kinds"]["alpha"]["source"] == "published"
    assert d["acceptance_kinds"]["rate"]["source"] == "estimated"
    d = est_json(capsys)                                   # the prior
    assert {d["acceptance_kinds"][n]["source"] for n in ("alpha", "rate", "al")} == {"estimated"}
    assert d["acceptance_kinds"]["alpha"]["value"] == pytest.approx(d["acceptance_rate"], abs=1e-6)


def test_mean_drafted_length(capsys):
    """llama.cpp with p-min gating drafts fewer tokens than --draft-max: rate 0.7 with 2.5 drafted per pass is
    AL = 1 + 0.7·2.5 = 2.75 — a far lower α than 0.7 at a fixed K = 16 implies."""
    gated = est_json(capsys, "--acceptance", "0.7", "--acceptance-kind", "rate", "--acceptance-k", "16",
                     "--acceptance-drafted", "2.5")
    fixed = est_json(capsys, "--acceptance", "0.7", "--acceptance-kind", "rate", "--acceptance-k", "16")
    assert gated["acceptance_rate"] < fixed["acceptance_rate"] - 0.1
    g = gated["acceptance_kinds"]["given"]
    assert g["mean_drafted"] == 2.5 and g["k"] == 16
    a = gated["acceptance_rate"]
    assert (1 - a ** 3.5) / (1 - a) == pytest.approx(2.75, abs=1e-4)     # (1 − α^(L+1))/(1 − α) at L = 2.5


@pytest.mark.parametrize("extra,words", [
    (["--acceptance", "2.5", "--acceptance-kind", "al"], "--acceptance-k"),
    (["--acceptance", "0.5", "--acceptance-kind", "rate"], "--acceptance-k"),
    (["--acceptance", "6", "--acceptance-kind", "al", "--acceptance-k", "4"], "from 1 to 5"),
    (["--acceptance", "0.9", "--acceptance-kind", "al", "--acceptance-k", "4"], "from 1 to 5"),
    (["--acceptance", "1"], "[0, 1)"),
    (["--acceptance", "1.0", "--acceptance-kind", "rate", "--acceptance-k", "4"], "[0, 1)"),
    (["--acceptance", "0.5", "--acceptance-k", "4"], "α does not depend on K"),
    (["--acceptance", "0.5", "--acceptance-kind", "rate", "--acceptance-k", "4", "--acceptance-drafted", "5"],
     "--acceptance-drafted"),
    (["--acceptance", "0.5", "--acceptance-kind", "rate", "--acceptance-k", "0"], "--acceptance-k"),
    (["--acceptance-kind", "al"], "none was given"),
    (["--acceptance", "0.5", "--measured", "--published"], "--published"),
])
def test_bad_acceptance_is_one_line(capsys, extra, words):
    """Issue 10 'Bad input': acceptance outside its kind's range (α and rate in [0, 1), AL in [1, K+1]), K < 1.
    Before, α = 1 was accepted and AL had no range at all."""
    out = fails(capsys, *extra)
    assert words in out.err


def test_bad_acceptance_with_json_prints_one_error_document(capsys):
    out = fails(capsys, "--acceptance", "6", "--acceptance-kind", "al", "--acceptance-k", "4", fmt="json")
    doc = json.loads(out.out)
    assert doc["error"]["exit_code"] == 2 and "--acceptance" in doc["error"]["message"]


# --- find: performance.acceptance_kind ------------------------------------------------------------------

def _find_alpha(tmp_path, capsys, performance):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"performance": performance}))
    code = main(["Qwen/Qwen2.5-7B-Instruct", "--offline", "--config", str(cfg), "--format", "json", "-q"])
    out = capsys.readouterr()
    return code, out


def test_find_config_acceptance_kind_converts_the_base_rate(tmp_path, capsys):
    """base_acceptance_rate 0.5904 as accepted ÷ drafted at K = 4 is α = 0.8: the same candidates' α as a
    config giving α = 0.8 directly (and not as α = 0.5904)."""
    code, out = _find_alpha(tmp_path, capsys, {"base_acceptance_rate": 0.5904, "acceptance_kind": "rate",
                                               "acceptance_k": 4})
    assert code == 0, out.err
    as_rate = {d["model_id"]: d["acceptance_rate_estimate"] for d in json.loads(out.out)["draft_models"]}
    code, out = _find_alpha(tmp_path, capsys, {"base_acceptance_rate": 0.8})
    as_alpha = {d["model_id"]: d["acceptance_rate_estimate"] for d in json.loads(out.out)["draft_models"]}
    code, out = _find_alpha(tmp_path, capsys, {"base_acceptance_rate": 0.5904})
    raw = {d["model_id"]: d["acceptance_rate_estimate"] for d in json.loads(out.out)["draft_models"]}
    assert as_rate == pytest.approx(as_alpha, abs=1e-5) and as_rate != pytest.approx(raw, abs=1e-3)


@pytest.mark.parametrize("performance,words", [
    ({"base_acceptance_rate": 0.6, "acceptance_kind": "rate"}, "performance.acceptance_k"),
    ({"base_acceptance_rate": 6.0, "acceptance_kind": "al", "acceptance_k": 4}, "from 1 to 5"),
    ({"base_acceptance_rate": 0.6, "acceptance_kind": "tokens"}, "performance.acceptance_kind"),
    ({"base_acceptance_rate": 0.6, "acceptance_k": 4}, "α does not depend on K"),
])
def test_find_config_bad_acceptance_is_one_line(tmp_path, capsys, performance, words):
    code, out = _find_alpha(tmp_path, capsys, performance)
    assert code == 2 and out.err.count("\n") == 1 and words in out.err
    assert json.loads(out.out)["error"]["exit_code"] == 2
