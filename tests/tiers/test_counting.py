"""Counting an earn towards tiers in one statement, and the cheap tier read an earn does first."""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from loyalty.transactions import all_or_nothing
from members.models import Member
from tests.concurrency import results_of, run_together
from tests.factories import MemberFactory
from tests.plans import covering_plan
from tiers import services
from tiers.counting import CONFIG, activity_count
from tiers.models import MemberTier, TierChange, TierPolicy
from tiers.qualification import Ladder
from tiers.selectors import member_tier_get
from tiers.services import tier_activity_record, tier_assign, tier_define, tier_policy_set

from .conftest import T0, ladder_define


def earn(member, points, source_id, *, spend=None, occurred_at=None):
    return tier_activity_record(member=member, occurred_at=occurred_at or timezone.now(), points=points,
                                spend=Decimal(spend if spend is not None else points), source_type="test",
                                source_id=source_id, actor="test")


@pytest.mark.parametrize("metric", [TierPolicy.Metric.POINTS, TierPolicy.Metric.SPEND, TierPolicy.Metric.CREDITS])
def test_the_postgresql_statement_counts_exactly_as_the_portable_statements(program, store,
                                                                            clock, metric):
    tiers = ladder_define(program, metric=metric)
    one, other = MemberFactory(program=program, store=store), MemberFactory(program=program, store=store)
    tier_assign(member=other, tier=tiers["silver"], reason="Goodwill", actor="user:1",
                locked_until=T0 + timedelta(days=1))
    tier_assign(member=one, tier=tiers["silver"], reason="Goodwill", actor="user:1",
                locked_until=T0 + timedelta(days=1))
    history = [  # (occurred, points, spend, credits): before the window, inside it, a return, at its very start
        (T0 - timedelta(days=400), 900, Decimal("900.10"), 9),
        (T0 - timedelta(days=30), 120, Decimal("120.70"), 2),
        (T0 - timedelta(days=10), -40, Decimal("-40.35"), -1),
        (T0.replace(year=T0.year - 1), 7, Decimal("0.10"), 1),
        (T0, 0, Decimal("0.00"), 0),
    ]
    policy = TierPolicy.objects.get(program=program)
    answers = {}
    for member, portable in ((one, False), (other, True)):
        answers[portable] = [
            activity_count(program_id=program.pk, member_id=member.pk, metric=metric, scale=100 if metric == "spend"
                           else 1, since=T0.replace(year=T0.year - 1), now=timezone.now(), occurred_at=occurred,
                           points=points, spend=spend, credits=credits, source_type="test",
                           source_id=f"{member.pk}-{n}", actor="test", portable=portable)
            for n, (occurred, points, spend, credits) in enumerate(history)]

    assert answers[False] == answers[True]
    assert answers[False][-1].locked is True
    assert answers[False][-1].units == {"points": 87, "spend": 8045, "credits": 2}[policy.metric]
    values = {m.pk: MemberTier.objects.get(member=m).qualifying_value for m in (one, other)}
    assert values[one.pk] == values[other.pk] == {"points": 87, "spend": Decimal("80.45"), "credits": 2}[metric]


def test_spend_counts_to_the_cent(program, member, clock):
    tier_policy_set(program=program, metric=TierPolicy.Metric.SPEND)
    tier_define(program=program, code="base", name="Base", rank=1, threshold=0)
    tier_define(program=program, code="cent", name="Cent", rank=2, threshold=Decimal("0.80"))
    earn(member, 0, "p1", spend="0.70")
    status = earn(member, 0, "p2", spend="0.10")  # as floats, 0.7 + 0.1 is a hair below 0.8

    assert status.qualifying_value == Decimal("0.80")
    assert status.tier.code == "cent"
    assert MemberTier.objects.get(member=member).qualifying_value == Decimal("0.80")


def test_an_earn_below_the_next_threshold_is_one_statement(program, member, clock, django_assert_num_queries):
    ladder_define(program)
    earn(member, 100, "p1")  # the first earn places the member (status row, base tier)

    statements = 1
    with django_assert_num_queries(statements), all_or_nothing():  # as in a POS request: no savepoint
        status = earn(member, 100, "p2")

    assert (status.qualifying_value, status.tier.code) == (200, "bronze")
    assert member.current_tier.code == "bronze"
    assert MemberTier.objects.get(member=member).qualifying_value == 200
    assert not TierChange.objects.filter(member=member).exists()


def test_the_earn_that_crosses_a_threshold_upgrades_and_writes_the_history(program, member, clock):
    ladder_define(program)
    earn(member, 400, "p1")
    status = earn(member, 150, "p2")

    assert (status.qualifying_value, status.tier.code, status.achieved_at) == (550, "silver", T0)
    change = TierChange.objects.get(member=member)
    assert (change.from_tier.code, change.to_tier.code, change.cause) == ("bronze", "silver", "upgrade")
    assert member.current_tier.code == "silver"


def test_a_manual_lock_stops_an_upgrade_by_an_earn(program, member, clock):
    tiers = ladder_define(program)
    tier_assign(member=member, tier=tiers["bronze"], reason="Held at bronze", actor="user:1",
                locked_until=T0 + timedelta(days=5))

    status = earn(member, 2500, "p1")

    assert (status.qualifying_value, status.tier.code) == (2500, "bronze")
    assert TierChange.objects.filter(member=member, cause="upgrade").count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_earn_racing_another_on_the_status_row_sums_both(program, member):
    """The second earn's statement started before the first committed: it must not miss the first's points."""
    ladder_define(program)
    earn(member, 100, "p0")
    first_holds_the_row, release = threading.Event(), threading.Event()
    settled = []
    settle = services._activity_settle

    def settle_spy(**kwargs):
        settled.append(kwargs["source_id"])
        return settle(**kwargs)

    def first():
        with transaction.atomic():
            earn(member, 100, "p1")
            first_holds_the_row.set()
            release.wait(timeout=30)

    def second():
        first_holds_the_row.wait(timeout=30)
        return earn(Member.objects.get(pk=member.pk), 200, "p2")

    def referee():  # lets the first commit once the second waits for the row lock
        first_holds_the_row.wait(timeout=30)
        deadline = time.monotonic() + 20
        with connection.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND datname = current_database() AND query LIKE 'WITH activity AS%'")
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.02)
        release.set()

    services._activity_settle = settle_spy
    try:
        results_of(run_together([first, second, referee]))
    finally:
        services._activity_settle = settle

    assert settled == ["p2"]  # the second saw a newer row than its snapshot, and summed again under the lock
    assert MemberTier.objects.get(member=member).qualifying_value == 400


@pytest.mark.django_db(transaction=True)
def test_concurrent_earns_and_returns_of_one_member_lose_nothing(program, member):
    ladder_define(program)
    earn(member, 10, "p0")

    results_of(run_together([lambda n=n: earn(Member.objects.get(pk=member.pk), 100 if n % 3 else -20, f"p{n + 1}")
                             for n in range(9)]))

    assert MemberTier.objects.get(member=member).qualifying_value == 10 + 6 * 100 - 3 * 20
    assert MemberTier.objects.get(member=member).tier.code == "silver"


def test_the_tier_an_earn_reads_is_one_column_of_the_status_row(program, member, clock, django_assert_num_queries):
    ladder_define(program)
    earn(member, 600, "p1")
    fresh = Member.objects.get(pk=member.pk)
    member_tier_get(member=fresh)  # the program's ladder is memoised now

    reread = Member.objects.get(pk=member.pk)
    with django_assert_num_queries(1):
        assert member_tier_get(member=reread).code == "silver"
    with django_assert_num_queries(0):
        assert member_tier_get(member=reread).code == "silver"


def test_a_member_read_with_the_status_row_needs_no_query_for_the_tier(program, member, clock,
                                                                       django_assert_num_queries):
    ladder_define(program)
    earn(member, 600, "p1")
    member_tier_get(member=Member.objects.get(pk=member.pk))

    reread = Member.objects.select_related("tier_status").get(pk=member.pk)
    with django_assert_num_queries(0):
        assert member_tier_get(member=reread).code == "silver"


def test_a_member_without_a_status_row_stands_at_the_base_tier(program, member, clock):
    ladder_define(program)

    assert member_tier_get(member=Member.objects.get(pk=member.pk)).code == "bronze"
    assert member_tier_get(member=Member.objects.get(pk=member.pk), fresh=True).code == "bronze"


def test_a_tier_saved_in_this_process_is_read_anew(program, member, clock):
    tiers = ladder_define(program)
    earn(member, 600, "p1")
    assert member_tier_get(member=Member.objects.get(pk=member.pk)).multiplier == Decimal("1.25")
    tiers["silver"].multiplier = Decimal("2.0")
    tiers["silver"].save()  # forgets the memo in this process

    assert member_tier_get(member=Member.objects.get(pk=member.pk)).multiplier == Decimal("2.0")


def test_a_tier_the_memoised_ladder_does_not_know_yet_is_read_from_the_database(program, member, clock,
                                                                                 monkeypatch):
    ladder_define(program)
    earn(member, 600, "p1")
    policy = TierPolicy.objects.get(program=program)
    monkeypatch.setattr(CONFIG, "get", lambda program_id: (policy, Ladder(tiers=(), scale=1)))

    assert member_tier_get(member=Member.objects.get(pk=member.pk)).code == "silver"
    status = earn(member, 100, "p2")  # the member's tier is unknown to the memo: decided on fresh rows
    assert (status.qualifying_value, status.tier.code) == (700, "silver")


@pytest.mark.parametrize("metric", [TierPolicy.Metric.POINTS, TierPolicy.Metric.SPEND, TierPolicy.Metric.CREDITS])
def test_a_members_window_is_summed_from_the_index_alone(member, metric):
    """A regular's year of activities lies on as many table pages as there are activities: the window's
    units are read from the member's index instead (an index-only scan), whatever the metric."""
    from tiers.counting import _count_statements

    now = timezone.now()
    params = {"program": member.program_id, "member": member.pk, "occurred_at": now, "points": 1,
              "spend": Decimal("1.00"), "credits": 0, "source_type": "test", "source_id": "plan", "actor": "test",
              "now": now, "since": now - timedelta(days=365)}
    (counting,) = _count_statements(metric, portable=False)
    plan = covering_plan(counting, params)

    assert "Index Only Scan using qualifying_member_window_idx" in plan, plan
