"""Members at risk, on a small world worked out by hand: the usual gap (their own 90th percentile from four
purchases, the program's before), lagging on a date, the members who never came back, each part of the health
score and its total, the bands and their counts, the score distribution; the rollup re-reads only the members its
days touched, lands purchases on the program's local day and writes the same rows when run again.

The world (program in UTC, every purchase 10.00 EUR, everyone joined on day 0):

====  ===================  ===================================================
Ana   days 0, 3, 8, 15     redeemed once (day 10), NPS 9 (day 12)
Ben   days 0, 2
Cleo  days 1, 5, 6         NPS 7 (day 6)
Dan   no purchase
Eve   day 0
====  ===================  ===================================================

Program yardsticks: gap after joining = p90 of [0, 0, 1, 0] = 1; after the first purchase p90 of [3, 2, 4] = 4;
after the second p90 of [5, 1] = 5; after the third p90 of [7] = 7; purchases p80 of [4, 2, 3, 1] = 4; spend
p80 of [40, 20, 30, 10] = 40.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from analytics.health import (
    BANDS,
    band_counts,
    health_list_count,
    health_list_rows,
    health_segment_ids,
    lagging_members,
    member_health_get,
    never_returned_members,
    recency_points,
    score_distribution,
)
from analytics.models import HealthDay, HealthNorms, MemberHealth
from analytics.services import rollup_days
from earning.services import purchase_record
from rewards.models import Reward
from rewards.services import reward_redeem
from surveys.services import response_record, survey_create
from tests.factories import MemberFactory, ProgramFactory, StoreFactory

pytestmark = pytest.mark.django_db

DAY0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
FIRST = DAY0.date()


def on(day: int) -> date:
    return FIRST + timedelta(days=day)


def at(day: int, hours: int = 0) -> datetime:
    return DAY0 + timedelta(days=day, hours=hours)


def buy(store, member, day: int, total: str = "10.00", hours: int = 0):
    with time_machine.travel(at(day, hours), tick=False):
        return purchase_record(store=store, actor="test", external_id=f"{member.last_name}-{day}-{hours}",
                               currency="EUR", total=Decimal(total), lines=[], member_reference={"id": str(member.pk)})


def build_world(program):
    """The world above in ``program`` (its time zone UTC), rolled up on day 20: (store, {name: member})."""
    store = StoreFactory(program=program, code="MAIN")
    with time_machine.travel(DAY0 - timedelta(hours=1), tick=False):
        people = {name: MemberFactory(program=program, first_name=name, last_name=name.upper())
                  for name in ("Ana", "Ben", "Cleo", "Dan", "Eve")}
        survey = survey_create(program=program, code="visit-nps", kind="nps")
        reward = Reward.objects.create(program=program, code="COFFEE", name="Free coffee", points_cost=10)
    for name, days in {"Ana": (0, 3, 8, 15), "Ben": (0, 2), "Cleo": (1, 5, 6), "Eve": (0,)}.items():
        for day in days:
            buy(store, people[name], day)
    with time_machine.travel(at(10), tick=False):
        reward_redeem(member=people["Ana"], reward=reward, actor="test")
    for name, day, score in (("Ana", 12, 9), ("Cleo", 6, 7)):
        with time_machine.travel(at(day, 1), tick=False):
            response_record(survey=survey, score=score, channel="portal", actor="test", member=people[name])
    with time_machine.travel(at(20), tick=False):
        rollup_days(program=program, first=FIRST, last=on(20))
    return store, people


@pytest.fixture
def world(db):
    program = ProgramFactory(slug="coffee", time_zone="UTC", expiry_days=None)
    return program, *build_world(program)


def health(program, member, day: int):
    return member_health_get(program=program, member_id=member.pk, day=on(day))


def test_the_programs_yardsticks_are_the_percentiles_of_its_members(world):
    program, _, _ = world
    norms = HealthNorms.objects.get(program=program)
    assert (norms.gap_0, norms.gap_1, norms.gap_2, norms.gap_3) == (1, 4, 5, 7)
    assert (norms.measured_0, norms.measured_1, norms.measured_2, norms.measured_3) == (4, 3, 2, 1)
    assert (norms.purchases_scale, norms.spend_scale, norms.members) == (4, Decimal("40.00"), 5)


def test_the_usual_gap_is_their_own_from_four_purchases_and_the_programs_before(world):
    program, _, people = world
    gaps = dict(MemberHealth.objects.filter(program=program).values_list("member__first_name", "usual_gap"))
    # Ana: her own gaps 3, 5, 7 → 7. The others the program's gap after as many purchases as they have: Ben (two)
    # 5, Cleo (three) 7, Eve (one) 4, Dan (none) 1.
    assert gaps == {"Ana": 7, "Ben": 5, "Cleo": 7, "Dan": 1, "Eve": 4}
    ana = MemberHealth.objects.get(member=people["Ana"])
    assert (ana.own_gap, ana.purchases, ana.first_purchase_on, ana.last_purchase_on) == (7, 4, on(0), on(15))
    assert MemberHealth.objects.get(member=people["Ben"]).own_gap is None


def test_each_part_and_the_total_on_day_20(world):
    program, _, people = world
    expected = {  # recency, frequency, money, engagement, nps
        "Ana": {"recency": 40, "frequency": 20, "money": 20, "engagement": 5, "nps": 10},  # 5 days since, gap 7
        "Ben": {"recency": 0, "frequency": 10, "money": 10, "engagement": 0, "nps": 5},  # 18 days ≥ 3 × 5
        "Cleo": {"recency": 20, "frequency": 15, "money": 15, "engagement": 2, "nps": 6},  # 40 × (21 − 14) // 14
        "Dan": {"recency": 0, "frequency": 0, "money": 0, "engagement": 0, "nps": 5},
        "Eve": {"recency": 0, "frequency": 5, "money": 5, "engagement": 0, "nps": 5},
    }
    for name, parts in expected.items():
        found = health(program, people[name], 20)
        assert found.parts == parts, name
        assert found.score == sum(parts.values())
    assert [health(program, people[n], 20).score for n in ("Ana", "Ben", "Cleo", "Dan", "Eve")] == [95, 25, 58, 5, 15]


def test_recency_holds_for_the_usual_gap_then_falls_to_nothing_at_three(world):
    assert [recency_points(d, 7) for d in (0, 7, 8, 14, 20, 21, 40)] == [40, 40, 37, 20, 2, 0, 0]


def test_the_band_follows_the_score_and_three_gaps_make_a_member_lost(world):
    program, _, people = world
    cleo = MemberHealth.objects.get(member=people["Cleo"])
    # still 38 points: under 70 once recency < 32 (day 16), under 50 once < 12 (day 23); lost after 3 gaps (day 28)
    assert (cleo.watch_from, cleo.at_risk_from, cleo.lost_from, cleo.lagging_from) == (on(16), on(23), on(28), on(14))
    scores = {day: health(program, people["Cleo"], day) for day in (15, 16, 22, 23, 27, 28)}
    assert {day: (h.score, h.band) for day, h in scores.items()} == {
        15: (72, "healthy"), 16: (69, "watch"), 22: (52, "watch"), 23: (49, "at-risk"), 27: (38, "at-risk"),
        28: (38, "lost")}
    ben = MemberHealth.objects.get(member=people["Ben"])
    # still 25 points: under 30 once recency < 5, from day 2 + 5 × 55 // 20 + 1 = 16, before three gaps (day 18)
    assert ben.lost_from == on(16)
    assert [(h.score, h.band) for h in (health(program, people["Ben"], 15), health(program, people["Ben"], 16))] == \
        [(33, "at-risk"), (29, "lost")]
    ana = MemberHealth.objects.get(member=people["Ana"])
    # still 55: under 70 from day 15 + 7 × 45 // 20 + 1 = 31; never under 50 by the score, so lost at three gaps
    assert (ana.watch_from, ana.at_risk_from, ana.lost_from) == (on(31), on(37), on(37))


def test_band_counts_on_a_day(world):
    program, _, _ = world
    assert [(b.slug, b.members) for b in band_counts(program=program, day=on(20))] == [
        ("healthy", 1), ("watch", 1), ("at-risk", 0), ("lost", 3)]
    assert [(b.slug, b.members) for b in band_counts(program=program, day=on(10))] == [
        ("healthy", 2), ("watch", 1), ("at-risk", 0), ("lost", 2)]
    assert sum(b.share for b in band_counts(program=program, day=on(20))) == 100.0


def test_the_band_counts_agree_with_each_members_score(world):
    program, _, people = world
    for day in (15, 16, 20, 22, 23, 28, 31, 37, 60):  # from the last purchase of the world on
        counted = {b.slug: b.members for b in band_counts(program=program, day=on(day))}
        banded = {}
        for member in people.values():
            h = health(program, member, day)
            banded[h.band] = banded.get(h.band, 0) + 1
            if h.band != "lost":  # lost also by the calendar alone; the other bands only by the score
                assert h.band == ("healthy" if h.score >= 70 else "watch" if h.score >= 50 else "at-risk"), day
        assert {k: v for k, v in counted.items() if v} == banded, day


def test_the_lists_are_counted_from_the_days_members_enter_them(world):
    program, _, _ = world
    assert [health_list_count(program=program, day=on(d), which="lagging") for d in (7, 8, 14, 23)] == [0, 1, 2, 3]
    assert [health_list_count(program=program, day=on(d), which="never-returned") for d in (60, 61)] == [0, 2]
    assert health_list_count(program=program, day=on(20), which="lost") == 3


def test_the_score_distribution_counts_members_by_tens(world):
    program, _, _ = world
    # scores 5, 15, 25, 58 and 95 on day 20, the last day rolled up
    assert score_distribution(program=program) == (on(20), [1, 1, 1, 0, 0, 1, 0, 0, 0, 1])


def test_lagging_on_a_day_means_more_days_since_than_the_usual_gap(world):
    program, _, people = world
    assert [h.member_id for h in lagging_members(program=program, day=on(20)).members] == \
        [people["Cleo"].pk, people["Ben"].pk]  # began to lag on day 14 and day 8; Ana (day 23) not yet
    assert lagging_members(program=program, day=on(22)).count == 2
    assert lagging_members(program=program, day=on(23)).members[0].member_id == people["Ana"].pk
    assert lagging_members(program=program, day=on(7)).count == 0


def test_never_returned_means_one_purchase_or_none_and_joined_more_than_60_days_before(world):
    program, _, people = world
    assert never_returned_members(program=program, day=on(60)).count == 0
    found = never_returned_members(program=program, day=on(61))
    assert sorted(h.member_id for h in found.members) == sorted([people["Dan"].pk, people["Eve"].pk])


def test_the_explanation_says_why(world):
    program, _, people = world
    assert health(program, people["Cleo"], 20).explanation == (
        "usually every 7 days (usual for members with 3 purchases); 14 days since their last purchase; "
        "never redeemed; last NPS answer 7")
    assert health(program, people["Ana"], 20).explanation == (
        "usually every 7 days; 5 days since their last purchase; last redeemed 15 Jan; last NPS answer 9")
    assert health(program, people["Ana"], 400).explanation.endswith("no redemption this year; last NPS answer 9")
    assert health(program, people["Dan"], 20).explanation == (
        "no purchase yet; joined 20 days ago; members usually buy within 1 day of joining; never redeemed")


def test_a_segment_is_a_band_and_or_lagging(world):
    program, _, people = world
    ids = set(health_segment_ids(program=program, day=on(20), band="lost").values_list("member_id", flat=True))
    assert ids == {people["Ben"].pk, people["Dan"].pk, people["Eve"].pk}
    lagging_lost = health_segment_ids(program=program, day=on(20), band="lost", lagging_only=True)
    assert set(lagging_lost.values_list("member_id", flat=True)) == {people["Ben"].pk}


def test_the_csv_rows_walk_a_whole_list_in_chunks(world):
    program, _, people = world
    rows = list(health_list_rows(program=program, day=on(20), which="lost", chunk=2))
    assert sorted(h.member_id for h in rows) == sorted([people["Ben"].pk, people["Dan"].pk, people["Eve"].pk])
    assert rows[0].contact["card_number"]


def _rows(program):
    return (sorted(MemberHealth.objects.filter(program=program).values_list(), key=str),
            sorted(HealthDay.objects.filter(program=program).values_list("day", "watch", "at_risk", "lost", "lagging",
                                                                         "never_returned")),
            HealthNorms.objects.filter(program=program).values_list().get())


def test_rolling_up_again_writes_the_same_rows(world):
    program, _, _ = world
    before = _rows(program)
    with time_machine.travel(at(20), tick=False):
        rollup_days(program=program, first=FIRST, last=on(20))
        rollup_days(program=program, first=on(19), last=on(20))
    assert _rows(program) == before


def test_a_rollup_rereads_only_the_members_its_days_touched(world):
    program, store, people = world
    MemberHealth.objects.filter(member=people["Eve"]).update(answers=42)  # a mark a re-read would wipe
    buy(store, people["Ben"], 21)
    joined = None
    with time_machine.travel(at(21), tick=False):
        joined = MemberFactory(program=program, first_name="Fay")
        rollup_days(program=program, first=on(21), last=on(21))
    ben = MemberHealth.objects.get(member=people["Ben"])
    assert (ben.purchases, ben.last_purchase_on, ben.gap_after_2) == (3, on(21), 19)
    assert MemberHealth.objects.get(member=people["Eve"]).answers == 42
    assert MemberHealth.objects.get(member=joined).purchases == 0
    assert HealthNorms.objects.get(program=program).members == 6
    # the day counts were moved for the touched members only, and still agree with every member's band
    everyone = [*people.values(), joined]
    for day in (21, 25, 40, 90):
        banded = {slug: 0 for slug, _, _ in BANDS}
        for member in everyone:
            banded[health(program, member, day).band] += 1
        assert {b.slug: b.members for b in band_counts(program=program, day=on(day))} == banded, day
    assert health_list_count(program=program, day=on(21), which="lagging") == \
        sum(1 for m in everyone if MemberHealth.objects.get(member=m).purchases >= 2
            and health(program, m, 21).days_since > MemberHealth.objects.get(member=m).usual_gap)


def test_a_long_range_rereads_everyone(world):
    program, _, people = world
    MemberHealth.objects.filter(member=people["Eve"]).update(answers=42)
    with time_machine.travel(at(90), tick=False):
        rollup_days(program=program, first=FIRST, last=on(90))
    assert MemberHealth.objects.get(member=people["Eve"]).answers == 0


def test_purchases_land_on_the_programs_local_day(db):
    program = ProgramFactory(time_zone="Europe/Berlin")
    store = StoreFactory(program=program)
    with time_machine.travel(datetime(2026, 3, 28, 10, 0, tzinfo=UTC), tick=False):
        member = MemberFactory(program=program)
    with time_machine.travel(datetime(2026, 3, 28, 23, 30, tzinfo=UTC), tick=False):  # 00:30 on 29 March
        purchase_record(store=store, actor="test", external_id="late", currency="EUR", total=Decimal("5.00"),
                        lines=[], member_reference={"id": str(member.pk)})
        rollup_days(program=program, first=date(2026, 3, 28), last=date(2026, 3, 29))
    row = MemberHealth.objects.get(member=member)
    assert (row.enrolled_on, row.last_purchase_on, row.gap_after_0) == (date(2026, 3, 28), date(2026, 3, 29), 1)
