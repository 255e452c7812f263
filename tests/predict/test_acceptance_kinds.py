"""predict/acceptance_kinds.py: α, accepted ÷ drafted and acceptance length, against hand calculations.

Every expected number below is worked out by hand in the comment next to it (no call into the module computes
an expected value), so a wrong formula fails.
"""

from __future__ import annotations

import pytest

from draftfinder.errors import NumberError, UsageError
from draftfinder.predict import acceptance_kinds as ak


def test_acceptance_length_by_hand():
    # α = 0.8, K = 4: 1 + 0.8 + 0.64 + 0.512 + 0.4096 = 3.3616
    assert ak.al_from_alpha(0.8, 4) == pytest.approx(3.3616, abs=1e-12)
    # α = 0.5, K = 3: (1 − 0.5^4) / 0.5 = 0.9375 / 0.5 = 1.875
    assert ak.al_from_alpha(0.5, 3) == pytest.approx(1.875, abs=1e-12)
    # the ends: nothing accepted → 1 token per pass; everything accepted → K + 1
    assert ak.al_from_alpha(0.0, 7) == 1.0
    assert ak.al_from_alpha(1.0, 7) == 8.0


def test_rate_by_hand():
    # α = 0.8, K = 4: (3.3616 − 1) / 4 = 0.5904 — below α, later positions are reached less often
    assert ak.rate_from_alpha(0.8, 4) == pytest.approx(0.5904, abs=1e-12)
    # α = 0.5, K = 3: 0.875 / 3
    assert ak.rate_from_alpha(0.5, 3) == pytest.approx(0.875 / 3, abs=1e-12)


def test_k1_all_three_coincide_with_alpha():
    """At K = 1 accepted ÷ drafted is α itself and AL = 1 + α."""
    for a in (0.0, 0.3, 0.62, 0.99):
        assert ak.rate_from_alpha(a, 1) == pytest.approx(a, abs=1e-12)
        assert ak.al_from_alpha(a, 1) == pytest.approx(1 + a, abs=1e-12)
        assert ak.alpha_from_rate(a, 1) == pytest.approx(a, abs=1e-12)


def test_rate_al_identity_is_exact_counting():
    # rate 0.7 at K = 5: 1 + 0.7·5 = 4.5 tokens per pass; and back
    assert ak.al_from_rate(0.7, 5) == pytest.approx(4.5, abs=1e-12)
    assert ak.rate_from_al(4.5, 5) == pytest.approx(0.7, abs=1e-12)
    assert ak.convert(0.7, "rate", "al", 5) == pytest.approx(4.5, abs=1e-12)


def test_inversions_recover_alpha_by_hand():
    # the hand values above, inverted
    assert ak.alpha_from_al(3.3616, 4) == pytest.approx(0.8, abs=1e-10)
    assert ak.alpha_from_rate(0.5904, 4) == pytest.approx(0.8, abs=1e-10)
    assert ak.alpha_from_al(1.875, 3) == pytest.approx(0.5, abs=1e-10)
    assert ak.convert(0.5904, "rate", "alpha", 4) == pytest.approx(0.8, abs=1e-10)
    assert ak.convert(0.8, "alpha", "al", 4) == pytest.approx(3.3616, abs=1e-12)
    # the ends of the AL range
    assert ak.alpha_from_al(1.0, 4) == 0.0
    assert ak.alpha_from_al(5.0, 4) == 1.0


def test_inversion_is_monotone():
    """A larger AL (or rate) never gives a smaller α — on a fine grid, at several K."""
    for k in (1, 2, 5, 16):
        als = [1 + i * k / 400 for i in range(401)]
        alphas = [ak.alpha_from_al(x, k) for x in als]
        assert all(b >= a for a, b in zip(alphas, alphas[1:]))
        rates = [i / 400 for i in range(400)]
        alphas = [ak.alpha_from_rate(r, k) for r in rates]
        assert all(b >= a for a, b in zip(alphas, alphas[1:]))


def test_same_rate_means_higher_alpha_at_longer_k():
    """Why K matters: rate 0.6 at K = 1 is α = 0.6, at K = 5 it needs a higher α (hand check of the direction:
    rate(0.6, 5) = (1 + .6 + .36 + .216 + .1296 + .07776 − 1)/5 = 0.476 < 0.6)."""
    assert ak.rate_from_alpha(0.6, 5) == pytest.approx((0.6 + 0.36 + 0.216 + 0.1296 + 0.07776) / 5, abs=1e-12)
    assert ak.alpha_from_rate(0.6, 5) > 0.6


def test_mean_drafted_length_by_hand():
    """Variable-length drafting: L̄ = 2.5 tokens per pass. AL = (1 − 0.5^3.5)/0.5; rate = (AL − 1)/2.5."""
    al = 2 * (1 - 0.5 ** 3.5)                       # 1.8232233047...
    assert ak.al_from_alpha(0.5, 8, mean_drafted=2.5) == pytest.approx(al, abs=1e-12)
    assert ak.rate_from_alpha(0.5, 8, mean_drafted=2.5) == pytest.approx((al - 1) / 2.5, abs=1e-12)
    assert ak.alpha_from_al(al, 8, mean_drafted=2.5) == pytest.approx(0.5, abs=1e-10)
    # the counting identity with L̄ instead of K: 1 + 0.7·2.5 = 2.75
    assert ak.al_from_rate(0.7, 16, mean_drafted=2.5) == pytest.approx(2.75, abs=1e-12)
    # a gated engine's rate read at --draft-max instead of its real drafted length implies a far higher α
    assert ak.alpha_from_rate(0.7, 16) > ak.alpha_from_rate(0.7, 16, mean_drafted=2.5) + 0.1


@pytest.mark.parametrize("value,kind,k,ok", [
    (0.0, "alpha", None, True), (0.999, "alpha", None, True), (1.0, "alpha", None, False), (-0.01, "alpha", None, False),
    (0.5, "rate", None, True), (1.0, "rate", None, False), (float("nan"), "rate", None, False),
    (1.0, "al", 4, True), (5.0, "al", 4, True), (5.01, "al", 4, False), (0.99, "al", 4, False),
    (True, "alpha", None, False),
])
def test_ranges_through_the_one_validator(value, kind, k, ok):
    """α and rate in [0, 1), AL in [1, K + 1] (issue 10 "Bad input"); errors are ranges.NumberError lines."""
    if ok:
        assert ak.check_acceptance(value, kind, k) == pytest.approx(value)
    else:
        with pytest.raises(NumberError) as info:
            ak.check_acceptance(value, kind, k)
        assert "--acceptance" in info.value.message and "\n" not in info.value.message


def test_range_messages_name_the_kind_and_k():
    with pytest.raises(NumberError) as info:
        ak.check_acceptance(6, "al", 4)
    assert "from 1 to 5" in info.value.message and "K = 4" in info.value.message
    with pytest.raises(NumberError) as info:
        ak.check_acceptance(1.0, "rate")
    assert "[0, 1)" in info.value.message


def test_al_needs_k_and_kind_must_be_known():
    with pytest.raises(UsageError) as info:
        ak.check_acceptance(2.5, "al")
    assert "--acceptance-k" in (info.value.hint or "")
    with pytest.raises(UsageError) as info:
        ak.check_kind("tokens")
    assert "alpha, rate, al" in info.value.message
    with pytest.raises(NumberError):
        ak.check_k(0)
    with pytest.raises(NumberError):
        ak.check_mean_drafted(5, 4)          # more drafted per pass than K


def test_parse_accepts_percent_for_fractions_only():
    assert ak.parse_acceptance("70%", "rate") == pytest.approx(0.7)
    assert ak.parse_acceptance("0.7", "alpha") == pytest.approx(0.7)
    assert ak.parse_acceptance("3.5", "al", 4) == pytest.approx(3.5)
    with pytest.raises(NumberError):
        ak.parse_acceptance("350%", "al", 4)
    with pytest.raises(NumberError):
        ak.parse_acceptance("100%", "alpha")


def test_views_label_each_figure():
    """At the K in question: α keeps its source; rate and AL from α are i.i.d. conversions (estimated); a given
    rate at that very K keeps its source, and its AL counterpart (exact counting) does too."""
    v = ak.views_at_k(0.8, 4, source="measured", method="teacher-forced")
    assert (v.alpha.source, v.rate.source, v.al.source) == ("measured", "estimated", "estimated")
    assert v.al.value == pytest.approx(3.3616, abs=1e-12) and v.rate.value == pytest.approx(0.5904, abs=1e-12)
    alpha, given, how = ak.alpha_from_given(0.5904, "rate", 4, source="measured", method="llama-server")
    assert alpha == pytest.approx(0.8, abs=1e-10) and "inverting" in how
    v = ak.views_at_k(alpha, 4, source="estimated", method=how, given=given)
    assert v.rate.source == "measured" and v.rate.value == 0.5904
    assert v.al.source == "measured" and v.al.value == pytest.approx(1 + 0.5904 * 4, abs=1e-12)
    assert v.alpha.source == "estimated"
    d = v.to_dict()
    assert d["given"]["kind"] == "rate" and set(d["definitions"]) == {"alpha", "rate", "al"}
    # at another K the given figure no longer applies: both conversions are estimated
    v6 = ak.views_at_k(alpha, 6, source="estimated", method=how, given=given)
    assert v6.rate.source == v6.al.source == "estimated"
