"""Scores from known answers: NPS, its adjusted-Wald margin of error, CSAT and CES, exact to one decimal."""

import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from surveys.scoring import NpsCounts, ces_easy_share, ces_mean, csat, nps, nps_category, nps_margin_of_error


def test_scores_fall_into_promoters_passives_and_detractors():
    assert [nps_category(score) for score in range(11)] == ["detractor"] * 7 + ["passive"] * 2 + ["promoter"] * 2


def test_nps_of_known_answers():
    assert nps(NpsCounts(promoters=50, passives=30, detractors=20)) == Decimal("30.0")
    assert nps(NpsCounts(promoters=7, passives=2, detractors=3)) == Decimal("33.3")
    assert nps(NpsCounts(promoters=0, passives=0, detractors=4)) == Decimal("-100.0")
    assert nps(NpsCounts.of_scores([10, 9, 8, 7, 6, 0])) == Decimal("0.0")


def test_nps_rounds_halves_away_from_zero():
    assert nps(NpsCounts(promoters=1, passives=15, detractors=0)) == Decimal("6.3")  # 6.25
    assert nps(NpsCounts(promoters=0, passives=15, detractors=1)) == Decimal("-6.3")


def test_margin_of_error_by_adjusted_wald_on_known_answers():
    # n' = 103, p' = 50.75/103, d' = 20.75/103: 196 × sqrt((p' + d' − (p' − d')²) / n') = 15.0754…
    assert nps_margin_of_error(NpsCounts(promoters=50, passives=30, detractors=20)) == Decimal("15.1")
    assert nps_margin_of_error(NpsCounts(promoters=7, passives=2, detractors=3)) == Decimal("42.2")
    assert nps_margin_of_error(NpsCounts(promoters=200, passives=100, detractors=100)) == Decimal("8.1")
    # One detractor: n' = 4, p' = 0.1875, d' = 0.4375, Var = 0.140625, √Var = 0.375, × 196 = 73.5 exactly.
    assert nps_margin_of_error(NpsCounts(detractors=1)) == Decimal("73.5")
    assert nps_margin_of_error(NpsCounts(promoters=10)) == Decimal("29.4")


def test_no_answers_have_no_scores():
    assert nps(NpsCounts()) is None
    assert nps_margin_of_error(NpsCounts()) is None
    assert csat({}) is None and ces_mean({}) is None and ces_easy_share({}) is None


def test_csat_is_the_share_of_fours_and_fives():
    assert csat({5: 10, 4: 7, 3: 2, 2: 1}) == Decimal("85.0")
    assert csat({4: 1, 3: 2}) == Decimal("33.3")
    assert csat({5: 1, 1: 15}) == Decimal("6.3")
    assert csat({1: 3}) == Decimal("0.0")


def test_ces_mean_and_share_of_five_to_seven():
    assert ces_mean({7: 3, 5: 1, 2: 1}) == Decimal("5.6")
    assert ces_easy_share({7: 3, 5: 1, 2: 1}) == Decimal("80.0")
    assert ces_mean({4: 2, 5: 1}) == Decimal("4.3")
    assert ces_easy_share({4: 2, 5: 1}) == Decimal("33.3")


counts = st.builds(NpsCounts, st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 5000)).filter(
    lambda c: c.responses > 0)


@given(counts)
def test_nps_lies_between_minus_and_plus_hundred_and_is_the_shares_difference(c):
    score = nps(c)
    assert Decimal(-100) <= score <= Decimal(100)
    assert abs(float(score) - 100 * (c.promoters - c.detractors) / c.responses) <= 0.05 + 1e-9


@given(counts)
def test_margin_agrees_with_the_formula_in_floating_point(c):
    n = c.responses + 3
    p, d = (c.promoters + 0.75) / n, (c.detractors + 0.75) / n
    expected = 196 * math.sqrt((p + d - (p - d) ** 2) / n)
    assert abs(float(nps_margin_of_error(c)) - expected) <= 0.05 + 1e-6
    assert 0 < nps_margin_of_error(c) <= Decimal("100")


@given(counts)
def test_swapping_promoters_and_detractors_mirrors_the_score_and_keeps_the_margin(c):
    mirrored = NpsCounts(promoters=c.detractors, passives=c.passives, detractors=c.promoters)
    assert nps(mirrored) == -nps(c)
    assert nps_margin_of_error(mirrored) == nps_margin_of_error(c)


@given(counts, st.integers(2, 20))
def test_more_of_the_same_answers_narrow_the_margin(c, factor):
    bigger = NpsCounts(c.promoters * factor, c.passives * factor, c.detractors * factor)
    assert nps_margin_of_error(bigger) <= nps_margin_of_error(c)


@given(st.dictionaries(st.integers(1, 5), st.integers(0, 1000)).filter(lambda d: sum(d.values()) > 0))
def test_csat_is_a_percentage(scores):
    assert Decimal(0) <= csat(scores) <= Decimal(100)


@given(st.dictionaries(st.integers(1, 7), st.integers(0, 1000)).filter(lambda d: sum(d.values()) > 0))
def test_ces_mean_stays_on_the_scale(scores):
    assert Decimal(1) <= ces_mean(scores) <= Decimal(7)
    assert Decimal(0) <= ces_easy_share(scores) <= Decimal(100)


def test_a_change_between_two_periods_is_significant_or_not():
    from surveys.scoring import nps_change

    small = nps_change(NpsCounts(50, 30, 20), NpsCounts(55, 28, 17))
    assert small.change == Decimal("8.0") and small.significant is False
    big = nps_change(NpsCounts(50, 30, 20), NpsCounts(80, 15, 5))
    assert big.change == Decimal("45.0") and big.significant is True
    # by hand: p' = 50.75/103, d' = 20.75/103 against 80.75/103, 5.75/103; z = 0.4563/√(0.005916+0.002969) ≈ 4.84
    assert nps_change(NpsCounts(), NpsCounts(1, 0, 0)) is None


@given(counts, counts)
def test_significance_agrees_with_the_z_test_in_floating_point(a, b):
    from surveys.scoring import nps_change

    def adjusted(c):
        n = c.responses + 3
        p, d = (c.promoters + 0.75) / n, (c.detractors + 0.75) / n
        return p - d, (p + d - (p - d) ** 2) / n

    (x, vx), (y, vy) = adjusted(a), adjusted(b)
    z = (y - x) / math.sqrt(vx + vy)
    if abs(abs(z) - 1.96) > 1e-9:
        assert nps_change(a, b).significant is (abs(z) >= 1.96)
    assert nps_change(a, b).change == nps(b) - nps(a)
