"""Daily rollups: for any ledger they give the same roll-forward as the ledger itself, in a time zone that
changes its clocks; running them again changes nothing; a rollup that disagrees with the ledger says so;
purchases and enrolments land on the local day of the store that made them."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.models import DailyLedger, DailyTrade, RollupRun
from analytics.selectors import points_roll_forward
from analytics.services import rollup_days, rollup_drift, rollup_rebuild, rollup_recent
from analytics.tasks import rollup_program
from earning.services import purchase_record
from loyalty.errors import DomainError
from staff.data.reports import liability_report
from tests.factories import MemberFactory, ProgramFactory, StoreFactory
from tests.staff.test_reports import BASE, STEP, _apply

pytestmark = pytest.mark.django_db


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=8, max_size=40),
       ranges=st.lists(st.tuples(st.integers(-2, 24), st.integers(0, 10)), min_size=1, max_size=4),
       split=st.integers(0, 22))
def test_the_rollups_roll_forward_as_the_ledger_does_for_any_ledger_and_range(db, steps, ranges, split):
    with transaction.atomic():
        with time_machine.travel(BASE, tick=False):
            program = ProgramFactory(time_zone="Pacific/Auckland", expiry_days=None)
            members = [MemberFactory(program=program) for _ in range(3)]
        done = {"earns": [], "spends": []}
        first = BASE.astimezone(ZoneInfo(program.time_zone)).date()
        for day, hour, operation, who, points in sorted(steps, key=lambda s: (s[0], s[1])):
            with time_machine.travel(BASE + timedelta(days=day, hours=hour), tick=False):
                member = members[who]
                _apply(operation, member, [m for m in members if m != member], points, done)
            if day == split:  # a nightly run part-way: the days after it are rolled up again later
                rollup_days(program=program, first=first, last=first + timedelta(days=split))

        with time_machine.travel(BASE + timedelta(days=22), tick=False):
            run = rollup_rebuild(program=program)
            assert run.drift == {}
            for offset, length in ranges:
                start = first + timedelta(days=offset)
                end = start + timedelta(days=length)
                rolled = points_roll_forward(program=program, first=start, last=end)
                ledger = liability_report(program=program, start=start, end=end)
                m = ledger.movements
                assert (rolled.opening, rolled.earned, rolled.reversed, rolled.redeemed, rolled.refunded,
                        rolled.expired, rolled.adjusted, rolled.closing) == \
                    (ledger.opening, m.earned, m.reversed, m.redeemed, m.refunded, m.expired, m.adjusted,
                     ledger.closing)
                assert rolled.transfers == 0 and rolled.balances
        transaction.set_rollback(True)


@pytest.fixture
def berlin(db):
    program = ProgramFactory(slug="berlin", time_zone="Europe/Berlin")
    return program, StoreFactory(program=program, code="MITTE"), StoreFactory(program=program, code="KREUZBERG")


def buy(store, external_id, total, at, member=None):
    with time_machine.travel(at, tick=False):
        return purchase_record(store=store, actor="test", external_id=external_id, currency=store.program.currency,
                               total=Decimal(total), lines=[],
                               member_reference={"id": str(member.pk)} if member else None)


def test_purchases_and_enrolments_land_on_the_stores_local_day(berlin):
    program, mitte, kreuzberg = berlin
    with time_machine.travel(datetime(2026, 3, 28, 22, 30, tzinfo=UTC), tick=False):  # 23:30 in Berlin
        anna = MemberFactory(program=program, store=mitte)
    buy(mitte, "M-1", "20.00", datetime(2026, 3, 28, 22, 45, tzinfo=UTC), anna)  # 28 March, local
    buy(mitte, "M-2", "5.50", datetime(2026, 3, 28, 23, 5, tzinfo=UTC))  # 00:05 on 29 March: a guest
    buy(kreuzberg, "K-1", "12.00", datetime(2026, 3, 29, 9, 0, tzinfo=UTC), anna)

    with time_machine.travel(datetime(2026, 3, 30, 8, 0, tzinfo=UTC), tick=False):
        rollup_days(program=program, first=datetime(2026, 3, 27).date(), last=datetime(2026, 3, 30).date())
    rows = {(r.day.isoformat(), r.store.code if r.store else None):
            (r.purchases, r.member_purchases, r.sales, r.member_sales, r.enrolments)
            for r in DailyTrade.objects.filter(program=program).select_related("store")}
    assert rows == {
        ("2026-03-28", "MITTE"): (1, 1, Decimal("20.00"), Decimal("20.00"), 1),
        ("2026-03-29", "MITTE"): (1, 0, Decimal("5.50"), Decimal("0.00"), 0),
        ("2026-03-29", "KREUZBERG"): (1, 1, Decimal("12.00"), Decimal("12.00"), 0),
    }


def test_rolling_up_again_writes_the_same_rows(berlin):
    program, mitte, _ = berlin
    anna = MemberFactory(program=program, store=mitte)
    buy(mitte, "M-1", "20.00", timezone.now() - timedelta(days=1), anna)
    first = rollup_recent(program=program)
    rows = sorted(DailyLedger.objects.filter(program=program).values_list("day", "kind", "points", "entries"))
    second = rollup_recent(program=program)
    assert sorted(DailyLedger.objects.filter(program=program).values_list("day", "kind", "points", "entries")) \
        == rows
    assert first.drift == second.drift == {} and RollupRun.objects.filter(program=program).count() == 2


def test_a_rollup_that_disagrees_with_the_ledger_says_which_kind(berlin):
    program, mitte, _ = berlin
    anna = MemberFactory(program=program, store=mitte)
    buy(mitte, "M-1", "20.00", timezone.now(), anna)
    run = rollup_recent(program=program)
    assert run.drift == {}
    DailyLedger.objects.filter(program=program, kind="earn").update(points=19)
    today = run.last_day
    assert rollup_drift(program=program, through=today) == {"earn": {"rollup": 19, "ledger": 20}}


def test_the_nightly_task_rolls_up_every_program(berlin):
    program, mitte, _ = berlin
    buy(mitte, "M-1", "20.00", timezone.now(), MemberFactory(program=program, store=mitte))
    assert rollup_program(str(program.pk))["drift"] == {}
    assert rollup_program("00000000-0000-0000-0000-000000000000") == {"skipped": "no such program"}


def test_a_backwards_range_is_refused(berlin):
    program, _, _ = berlin
    today = timezone.localdate()
    with pytest.raises(DomainError):
        rollup_days(program=program, first=today, last=today - timedelta(days=1))


def test_the_rebuild_command_reports_each_program(berlin, capsys):
    from django.core.management import call_command

    program, mitte, _ = berlin
    buy(mitte, "M-1", "20.00", timezone.now(), MemberFactory(program=program, store=mitte))
    call_command("analytics_rebuild", "--program", "berlin")
    out = capsys.readouterr().out
    assert out.startswith("berlin: ") and "agrees with the ledger" in out
    with pytest.raises(SystemExit) as unknown:
        call_command("analytics_rebuild", "--program", "nowhere")
    assert unknown.value.code == 2


def test_the_rebuild_starts_at_the_first_enrolment_even_before_any_points():
    program = ProgramFactory()
    store = StoreFactory(program=program)
    joined = timezone.now() - timedelta(days=10)
    with time_machine.travel(joined, tick=False):
        MemberFactory(program=program, store=store)  # joins; earns nothing for ten days
    MemberFactory(program=program, store=store)

    run = rollup_rebuild(program=program)

    assert run.first_day == joined.date()
    assert DailyTrade.objects.get(program=program, day=joined.date()).enrolments == 1


@pytest.mark.django_db(transaction=True)
def test_a_rollup_plans_each_statement_with_its_values_and_only_in_its_own_transaction(monkeypatch):
    """Prepared statements would get generic plans that cannot hash a list of member ids
    (``loyalty.transactions.plan_each_statement``): the rollup's transaction asks for custom plans, and the
    connection is as it was afterwards."""
    from django.db import connection

    import analytics.services as services
    from loyalty.transactions import plan_each_statement

    def show() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW plan_cache_mode")
            return cursor.fetchone()[0]

    seen = []
    monkeypatch.setattr(services, "FURTHER_ROLLUPS", (lambda **kwargs: seen.append(show()) or 0,))
    rollup_recent(program=ProgramFactory())
    assert seen == ["force_custom_plan"] and show() == "auto"
    with pytest.raises(RuntimeError, match="inside an atomic block"):
        plan_each_statement()
