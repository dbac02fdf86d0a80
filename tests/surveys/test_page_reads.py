"""The staff survey page's reads on known data (``surveys.breakdowns``): the trend by month, the breakdowns by store,
tier, enrolment cohort and time since the last purchase, the bonus answers apart; and the significance of a change
between two periods (``scoring.nps_change``) around its threshold."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from earning.services import purchase_record
from members.models import Member
from surveys.breakdowns import TOO_FEW, monthly_scores, survey_breakdowns, survey_scores
from surveys.scoring import NpsChange, NpsCounts, nps_change
from surveys.services import response_record, survey_create
from tests.factories import MemberFactory, StoreFactory

UTC_ZONE = ZoneInfo("UTC")


# --- the test of a change (scoring.nps_change), on known counts ------------------------------------------


def test_a_large_change_on_many_answers_is_significant():
    # n' = 103 each: NPS' = 30.25/103 and −10/103, Var = (0.694175 − 0.084834)/103 and (0.694175 − 0.009426)/103
    # z = 0.388350 / √0.012564 = 3.46
    result = nps_change(NpsCounts(30, 30, 40), NpsCounts(50, 30, 20))
    assert result == NpsChange(change=Decimal("40.0"), significant=True)


def test_a_small_change_on_few_answers_is_not_significant():
    # z = 0.47
    assert nps_change(NpsCounts(10, 6, 9), NpsCounts(12, 5, 8)) == NpsChange(change=Decimal("12.0"),
                                                                            significant=False)


def test_the_verdict_turns_at_z_of_1_96():
    before = NpsCounts(30, 40, 30)
    assert not nps_change(before, NpsCounts(40, 40, 20)).significant  # z = 1.83
    assert nps_change(before, NpsCounts(41, 40, 19)).significant  # z = 2.02


def test_a_fall_is_significant_too():
    assert nps_change(NpsCounts(50, 30, 20), NpsCounts(30, 30, 40)) == NpsChange(change=Decimal("-40.0"),
                                                                                significant=True)


def test_nothing_to_compare_without_answers_in_either_period():
    assert nps_change(NpsCounts(), NpsCounts(5, 0, 0)) is None
    assert nps_change(NpsCounts(5, 0, 0), NpsCounts()) is None


# --- reads ---------------------------------------------------------------------------------------------------

pytestmark_db = pytest.mark.django_db


@pytest.fixture
def survey(program):
    return survey_create(program=program, code="nps", kind="nps")


def answer(survey, score, *, member=None, store=None, at=None):
    return response_record(survey=survey, score=score, channel="pos", actor="test", member=member, store=store,
                           answered_at=at)


def whole_time():
    return datetime(2000, 1, 1, tzinfo=UTC), timezone.now() + timedelta(days=1)


@pytestmark_db
def test_a_store_with_too_few_answers_is_marked_and_the_others_are_scored(survey, program):
    big, small = StoreFactory(program=program, name="Big Store"), StoreFactory(program=program, name="Small Store")
    for score in [10] * 20 + [8] * 5 + [0] * 5:  # n' = 33, p' = 20.75/33, d' = 5.75/33: margin 26.35
        answer(survey, score, store=big)
    for score in [10, 10, 0]:
        answer(survey, score, store=small)
    answer(survey, 9)  # an answer from no till

    (by_store, *_rest) = survey_breakdowns(survey=survey, start_at=whole_time()[0], end_at=whole_time()[1],
                                          zone=UTC_ZONE)

    rows = {group.label: group for group in by_store.groups}
    assert list(rows) == ["Big Store", "Small Store", "No store (email or portal)"]
    assert rows["Big Store"].responses == TOO_FEW and not rows["Big Store"].too_few
    assert rows["Big Store"].nps == Decimal("50.0") and rows["Big Store"].margin_of_error == Decimal("26.3")
    assert rows["Small Store"].responses == 3 and rows["Small Store"].too_few


@pytestmark_db
def test_members_are_grouped_by_tier_cohort_and_time_since_their_last_purchase(survey, program, store):
    now = timezone.now()
    recent = MemberFactory(program=program, store=store, email="recent@example.com")
    lapsed = MemberFactory(program=program, store=store, email="lapsed@example.com")
    never = MemberFactory(program=program, store=store, email="never@example.com")
    Member.objects.filter(pk=lapsed.pk).update(enrolled_at=datetime(2025, 2, 10, tzinfo=UTC))
    Member.objects.filter(pk__in=[recent.pk, never.pk]).update(enrolled_at=datetime(2025, 11, 3, tzinfo=UTC))
    purchase_record(store=store, actor="t", external_id="R-1", member_reference={"id": str(recent.pk)},
                    currency="EUR", total=Decimal("10.00"), occurred_at=now - timedelta(days=10))
    purchase_record(store=store, actor="t", external_id="L-1", member_reference={"id": str(lapsed.pk)},
                    currency="EUR", total=Decimal("10.00"), occurred_at=now - timedelta(days=200))
    # a purchase after the answer does not count as "before answering"
    answer(survey, 10, member=never, at=now - timedelta(days=1))
    purchase_record(store=store, actor="t", external_id="N-1", member_reference={"id": str(never.pk)},
                    currency="EUR", total=Decimal("10.00"), occurred_at=now)
    answer(survey, 9, member=recent)
    answer(survey, 3, member=lapsed)
    answer(survey, 7)  # anonymous

    start, end = whole_time()
    breakdowns = {b.key: b for b in survey_breakdowns(survey=survey, start_at=start, end_at=end, zone=UTC_ZONE)}
    recency = {g.label: g.responses for g in breakdowns["recency"].groups}
    assert recency == {"Bought within 30 days": 1, "More than 180 days": 1, "No purchase before answering": 1,
                       "Anonymous answers": 1}
    cohorts = {g.label: g.responses for g in breakdowns["cohort"].groups}
    assert cohorts == {"Q1 2025": 1, "Q4 2025": 2, "Anonymous answers": 1}
    monthly = survey_breakdowns(survey=survey, start_at=start, end_at=end, zone=UTC_ZONE, cohort="month")
    assert {g.label: g.responses for g in monthly[2].groups} == {"Feb 2025": 1, "Nov 2025": 2,
                                                                 "Anonymous answers": 1}
    tiers = {g.label: g.responses for g in breakdowns["tier"].groups}
    assert tiers == {"No tier": 3, "Anonymous answers": 1}


@pytestmark_db
def test_months_without_answers_are_in_the_trend_and_answers_fall_in_their_local_month(survey, program):
    answer(survey, 10, at=datetime(2026, 1, 31, 23, 30, tzinfo=UTC))  # 1 February in Berlin
    answer(survey, 0, at=datetime(2026, 3, 5, 12, 0, tzinfo=UTC))
    zone = ZoneInfo("Europe/Berlin")
    months = monthly_scores(survey=survey, start_at=datetime(2026, 1, 1, tzinfo=zone),
                            end_at=datetime(2026, 4, 1, tzinfo=zone), zone=zone)
    assert [(m.label, m.responses, m.nps) for m in months] == [
        ("Jan 2026", 0, None), ("Feb 2026", 1, Decimal("100.0")), ("Mar 2026", 1, Decimal("-100.0"))]


@pytestmark_db
def test_bonus_answers_are_counted_apart(program, store):
    survey = survey_create(program=program, code="nps", kind="nps", bonus_points=50)
    member = MemberFactory(program=program, store=store, email="bonus@example.com")
    answer(survey, 10, member=member)  # earns the bonus
    answer(survey, 0, member=member)  # the bonus was posted once already
    answer(survey, 8)
    start, end = whole_time()
    with_bonus = survey_scores(survey=survey, start_at=start, end_at=end, incentivised=True)
    without = survey_scores(survey=survey, start_at=start, end_at=end, incentivised=False)
    everything = survey_scores(survey=survey, start_at=start, end_at=end)
    assert (with_bonus.responses, with_bonus.nps) == (1, Decimal("100.0"))
    assert (without.responses, without.nps) == (2, Decimal("-50.0"))
    assert everything.responses == 3
