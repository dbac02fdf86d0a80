"""The staff home at /staff/: today's figures and their last 30 days by the program's own days, and the alerts
each role may act on, each appearing with its cause and gone once it is dealt with; a bounded number of queries."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import RollupRun
from ledger.models import Kind, PointsAccount, VerificationRun
from ledger.services import lots_expire_due, points_adjust, points_earn, points_spend
from notifications.models import Outbox
from staff.models import Adjustment, ReasonCode
from tests.factories import MemberFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint

from .conftest import client_for

pytestmark = pytest.mark.django_db

# 14:00 in Berlin (summer time since 29 March): the 30 days shown run from 4 March to 2 April, local.
NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def utc(month, day, hour, minute=0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def earn(member, points, *, kind=Kind.EARN, expires_at=None):
    points_earn(member=member, points=points, idempotency_key=f"earn:{timezone.now().isoformat()}:{member.pk}",
                source_type="test", actor="test", kind=kind, expires_at=expires_at)


def spend(member, points):
    points_spend(member=member, points=points, idempotency_key=f"spend:{timezone.now().isoformat()}",
                 source_type="test", actor="test")


def home(client):
    with at(NOW):
        response = client.get("/staff/")
    assert response.status_code == 200
    return response


def series(response, key: str) -> dict[str, int]:
    """A figure's days with a value, as ``{"03-04": 200}`` (local days)."""
    figures = response.context["home"]
    (figure,) = [f for f in figures.figures if f.key == key]
    return {f"{day:%m-%d}": value for day, value in zip(figures.days, figure.series, strict=True) if value}


@pytest.fixture
def berlin(program):
    program.time_zone = "Europe/Berlin"
    program.save(update_fields=["time_zone"])
    return program


@pytest.fixture
def ledger(berlin, store):
    """Three members' month, with moments either side of local midnights (UTC+1, then UTC+2 from 29 March)."""
    with at(utc(3, 1, 10)):
        anna = MemberFactory(program=berlin, store=store, first_name="Anna")
    with at(utc(3, 3, 22, 30)):  # 23:30 on 3 March in Berlin: the evening before the first day shown
        earn(anna, 1000)
    with at(utc(3, 3, 23, 30)):  # 00:30 on 4 March in Berlin: the first day shown
        ben = MemberFactory(program=berlin, store=store, first_name="Ben")
        earn(ben, 200)
    with at(utc(3, 20, 10)):
        earn(ben, 50, kind=Kind.BONUS, expires_at=utc(4, 1, 21, 50))
    with at(utc(3, 28, 23, 30)):  # 00:30 on 29 March, still winter time
        earn(anna, 10)
    with at(utc(3, 29, 21, 30)):  # 23:30 on 29 March, summer time: the short day
        earn(ben, 20)
    with at(utc(3, 29, 22, 30)):  # 00:30 on 30 March
        earn(anna, 40)
    with at(utc(4, 1, 21, 45)):  # 23:45 on 1 April, yesterday
        spend(anna, 100)
    with at(utc(4, 1, 21, 55)):
        lots_expire_due()  # Ben's bonus, at 23:55 yesterday
    with at(utc(4, 1, 22, 15)):  # 00:15 today
        cleo = MemberFactory(program=berlin, store=store, first_name="Cleo")
        earn(cleo, 300)
    with at(utc(4, 2, 9)):
        spend(anna, 50)
        points_adjust(member=anna, points=25, reason="Goodwill", actor="test", idempotency_key="adj")
    return anna, ben, cleo


# --- figures --------------------------------------------------------------------------------------


def test_the_figures_count_each_entry_on_the_local_day_it_was_booked(ledger, manager_client):
    response = home(manager_client)

    assert series(response, "enrolments") == {"03-04": 1, "04-02": 1}
    assert series(response, "issued") == {"03-04": 200, "03-20": 50, "03-29": 30, "03-30": 40, "04-02": 300}
    assert series(response, "redeemed") == {"04-01": 100, "04-02": 50}
    assert series(response, "expired") == {"04-01": 50}
    # members' own doings: earning and spending, not a bonus, an expiry or a staff adjustment
    assert series(response, "active") == {"03-04": 1, "03-29": 2, "03-30": 1, "04-01": 1, "04-02": 2}
    home_figures = response.context["home"]
    assert home_figures.today.isoformat() == "2026-04-02" and len(home_figures.days) == 30
    assert home_figures.days[0].isoformat() == "2026-03-04"


def test_outstanding_points_are_todays_balances_and_each_evening_before(ledger, manager_client):
    response = home(manager_client)

    held = series(response, "outstanding")
    assert held["04-02"] == 925 + 220 + 300 == sum(PointsAccount.objects.values_list("available", flat=True))
    assert held["04-01"] == 1445 - (300 - 50 + 25)
    assert held["03-31"] == held["03-30"] == 1170 + 100 + 50
    assert held["03-29"] == 1320 - 40
    assert held["03-19"] == 1200 and held["03-04"] == 1200  # Anna's 1,000 from before, Ben's 200 of the 4th
    (figure,) = [f for f in response.context["home"].figures if f.key == "outstanding"]
    assert figure.change == 1445 - 1000
    assert response.context["home"].outstanding_value == Decimal("14.45")


def test_the_page_shows_todays_figures_with_their_charts_and_the_table_behind_them(ledger, manager_client):
    page = home(manager_client).content.decode()

    assert 'data-testid="figure-issued">300<' in page
    assert 'data-testid="figure-outstanding">1,445<' in page
    assert "Worth 14.45 EUR" in page
    assert "days in Europe/Berlin time" in page
    assert page.count('role="img"') == 6 and "aria-label=\"Points issued for each of the last 30 days" in page
    assert 'data-values="200,0,0,' in page  # issued, from 4 March
    assert "<th scope=\"row\" class=\"nowrap\">Today</th>" in page


def test_a_program_in_utc_counts_the_same_moments_on_other_days(ledger, berlin, manager_client):
    berlin.time_zone = "UTC"
    berlin.save(update_fields=["time_zone"])

    response = home(manager_client)

    # 00:15 in Berlin was still 1 April in UTC; 00:30 on 4 March was 3 March, before the days shown
    assert series(response, "issued") == {"03-20": 50, "03-28": 10, "03-29": 60, "04-01": 300}
    assert series(response, "enrolments") == {"04-01": 1}


def test_only_the_programs_own_entries_count(ledger, other_program, manager_client):
    with at(utc(4, 2, 8)):
        earn(MemberFactory(program=other_program), 999)

    assert series(home(manager_client), "issued")["04-02"] == 300


def test_todays_new_entries_show_at_once_while_earlier_days_are_kept(ledger, manager_client):
    anna = ledger[0]
    home(manager_client)
    with at(NOW - timedelta(minutes=5)):
        earn(anna, 7)

    response = home(manager_client)

    assert series(response, "issued")["04-02"] == 307
    assert series(response, "outstanding")["04-02"] == 1452


def test_an_empty_program_shows_zeros(berlin, manager_client):
    response = home(manager_client)

    assert all(value == 0 for figure in response.context["home"].figures for value in figure.series)
    assert 'data-testid="figure-outstanding">0<' in response.content.decode()


# --- alerts ---------------------------------------------------------------------------------------


def alert_keys(response) -> list[str]:
    return [check.key for check in response.context["alerts"]]


def check(response, key: str):
    found = [c for c in response.context["alerts"] + response.context["all_clear"] if c.key == key]
    return found[0] if found else None


def test_waiting_adjustments_link_to_the_approvals_until_decided(manager_client, member, agent):
    with at(NOW - timedelta(hours=3)):
        adjustment = Adjustment.objects.create(program=member.program, member=member, points=1500,
                                               reason_code=ReasonCode.GOODWILL, note="Broken machine",
                                               requested_by=agent, idempotency_key="a1")
    response = home(manager_client)
    assert alert_keys(response) == ["approvals"]
    page = response.content.decode()
    assert "1 adjustment waits for a second manager; the oldest was asked 3\xa0hours ago" in page
    assert 'href="/staff/approvals/">Review approvals</a>' in page

    Adjustment.objects.filter(pk=adjustment.pk).update(status=Adjustment.Status.REJECTED)
    response = home(manager_client)
    assert alert_keys(response) == [] and check(response, "approvals").state == "ok"
    assert "Needs attention" not in response.content.decode()


def delivery(endpoint, n, **fields):
    return WebhookDelivery.objects.create(endpoint=endpoint, program=endpoint.program,
                                          event_id=f"00000000-0000-0000-0000-{n:012d}", event_type="points.earned",
                                          payload={}, **fields)


def test_a_failing_webhook_endpoint_is_an_alert_until_it_delivers_again(manager_client, program, other_program):
    endpoint = WebhookEndpoint.objects.create(program=program, url="https://crm.example.com/hooks",
                                              events=["points.earned"])
    with at(NOW - timedelta(hours=2)):
        delivery(endpoint, 1, status="succeeded", attempts=1)
    with at(NOW - timedelta(hours=1)):
        waiting = delivery(endpoint, 2, status="pending", attempts=2, last_error="HTTP 503")
    other = WebhookEndpoint.objects.create(program=other_program, url="https://other.example.com/",
                                           events=["points.earned"])
    delivery(other, 3, status="failed", attempts=6, last_error="refused")

    response = home(manager_client)
    webhooks = check(response, "webhooks")
    assert alert_keys(response) == ["webhooks"] and webhooks.state == "danger" and webhooks.title == "Webhooks failing"
    page = response.content.decode()
    assert "1 of 1 endpoint: 1 delivery waiting to be retried." in page
    assert "https://crm.example.com/hooks" in page and "HTTP 503" in page and "other.example.com" not in page
    assert 'href="/staff/settings/webhooks/">Open webhook settings</a>' in page

    WebhookDelivery.objects.filter(pk=waiting.pk).update(status="succeeded", last_error="")
    response = home(manager_client)
    assert alert_keys(response) == [] and check(response, "webhooks").state == "ok"
    assert "1 endpoint, delivering." in response.content.decode()


def test_deliveries_given_up_are_a_warning_while_the_endpoint_delivers_again(manager_client, program):
    endpoint = WebhookEndpoint.objects.create(program=program, url="https://crm.example.com/hooks",
                                              events=["points.earned"])
    with at(NOW - timedelta(hours=20)):
        delivery(endpoint, 1, status="failed", attempts=6, last_error="HTTP 500")
    with at(NOW - timedelta(hours=1)):
        delivery(endpoint, 2, status="succeeded", attempts=1)

    response = home(manager_client)

    assert check(response, "webhooks").state == "warning"
    assert "Webhook deliveries failed" in response.content.decode()
    assert "1 given up after every retry" in response.content.decode()


def test_an_inactive_endpoint_raises_no_alert(manager_client, program):
    endpoint = WebhookEndpoint.objects.create(program=program, url="https://old.example.com/", events=["points.earned"],
                                              active=False)
    delivery(endpoint, 1, status="failed", attempts=1, last_error="endpoint is inactive")

    assert alert_keys(home(manager_client)) == []


def outbox_row(member, n, *, queued, status="pending", attempts=0, error=""):
    return Outbox.objects.create(program=member.program, member=member, kind="points_earned",
                                 category="transactional", dedupe_key=f"stuck-{n}", to=member.email,
                                 from_email="club@example.com", status=status, attempts=attempts, last_error=error,
                                 created_at=queued, next_attempt_at=queued)


def test_emails_unsent_for_a_quarter_of_an_hour_are_an_alert_until_sent(manager_client, member):
    outbox_row(member, 1, queued=NOW - timedelta(minutes=5))  # on its way
    response = home(manager_client)
    assert alert_keys(response) == [] and check(response, "outbox").state == "ok"

    stuck = outbox_row(member, 2, queued=NOW - timedelta(minutes=40), attempts=3, error="SMTP 421: try later")
    response = home(manager_client)
    assert alert_keys(response) == ["outbox"]
    page = response.content.decode()
    assert "1 email to members unsent for more than 15 minutes; the oldest was queued 40\xa0minutes ago." in page
    assert "SMTP 421: try later" in page
    assert "See them in the admin" not in page  # a program manager has no admin: told whom to ask
    assert "your platform operator" in page

    Outbox.objects.filter(pk=stuck.pk).update(status=Outbox.Status.SENT, sent_at=NOW)
    assert alert_keys(home(manager_client)) == []


def test_the_superuser_is_led_to_the_stuck_emails_in_the_admin(superuser, member):
    outbox_row(member, 1, queued=NOW - timedelta(hours=1))

    page = home(client_for(superuser)).content.decode()

    assert (f'href="/admin/notifications/outbox/?status__exact=pending&amp;program__id__exact={member.program_id}"'
            in page)


def test_ledger_drift_names_the_programs_members_and_clears_with_a_consistent_run(manager_client, member, store):
    page = home(manager_client).content.decode()
    assert "Not verified yet" in page

    earn(member, 100)
    PointsAccount.objects.filter(member=member).update(available=150)
    with at(NOW - timedelta(hours=8)), pytest.raises(CommandError):
        call_command("ledger_verify")
    response = home(manager_client)
    assert alert_keys(response) == ["ledger"]
    page = response.content.decode()
    assert "1 account of this program disagrees with their ledger entries (verified 8\xa0hours ago)" in page
    assert f'href="/staff/members/{member.pk}/">Ada Lovelace' in page
    assert "Open the verification run" not in page  # the admin is the operators'

    PointsAccount.objects.filter(member=member).update(available=100)
    with at(NOW - timedelta(hours=1)):
        call_command("ledger_verify")
    response = home(manager_client)
    assert alert_keys(response) == [] and check(response, "ledger").state == "ok"
    assert "every balance agrees with its entries" in response.content.decode()


def test_drift_in_another_program_is_not_this_programs_alert(manager_client, other_manager_client, member,
                                                             other_program):
    other = MemberFactory(program=other_program)
    earn(other, 10)
    PointsAccount.objects.filter(member=other).update(available=11)
    with at(NOW - timedelta(hours=1)), pytest.raises(CommandError):
        call_command("ledger_verify")

    assert check(home(manager_client), "ledger").state == "ok"
    assert alert_keys(home(other_manager_client)) == ["ledger"]


def test_drift_of_lots_alone_is_told_as_such(manager_client, program):
    VerificationRun.objects.create(trigger="command", started_at=NOW - timedelta(hours=1),
                                   finished_at=NOW - timedelta(hours=1), lots_drifted=2,
                                   programs={str(program.pk): {"accounts": 0, "lots": 2}})

    page = home(manager_client).content.decode()

    assert "2 lots of points of this program disagree with their ledger entries (verified 1\xa0hour ago)." in page


def test_a_verification_overdue_is_a_warning(manager_client, db):
    VerificationRun.objects.create(trigger="task", started_at=NOW - timedelta(days=3),
                                   finished_at=NOW - timedelta(days=3))

    response = home(manager_client)

    assert alert_keys(response) == ["ledger"] and check(response, "ledger").state == "warning"
    assert "Last verified 3\xa0days ago" in response.content.decode()


def test_the_superuser_is_led_to_the_verification_run_in_the_admin(superuser, member):
    earn(member, 10)
    PointsAccount.objects.filter(member=member).update(available=11)
    with at(NOW - timedelta(hours=1)), pytest.raises(CommandError):
        call_command("ledger_verify")

    page = home(client_for(superuser)).content.decode()

    run = VerificationRun.objects.get()
    assert f'href="/admin/ledger/verificationrun/{run.pk}/change/">Open the verification run' in page


# --- roles ----------------------------------------------------------------------------------------


@pytest.fixture
def everything_wrong(member, agent, other_program):
    """One of each alert for the program."""
    Adjustment.objects.create(program=member.program, member=member, points=1500, reason_code=ReasonCode.GOODWILL,
                              note="Broken machine", requested_by=agent, idempotency_key="a1")
    endpoint = WebhookEndpoint.objects.create(program=member.program, url="https://crm.example.com/hooks",
                                              events=["points.earned"])
    delivery(endpoint, 1, status="pending", attempts=1, last_error="HTTP 500")
    outbox_row(member, 1, queued=NOW - timedelta(hours=1))
    earn(member, 10)
    PointsAccount.objects.filter(member=member).update(available=11)
    with at(NOW - timedelta(hours=1)), pytest.raises(CommandError):
        call_command("ledger_verify")
    RollupRun.objects.create(program=member.program, first_day=NOW.date(), last_day=NOW.date(), trigger="nightly",
                             rows=2, seconds=0.1, finished_at=NOW - timedelta(hours=1),
                             drift={"earn": {"rollup": 9, "ledger": 10}})


@pytest.mark.parametrize(("role", "seen"), [
    ("manager", ["ledger", "rollups", "webhooks", "outbox", "approvals"]),
    ("analyst", ["ledger", "rollups", "webhooks"]),  # they read reports and the webhook settings, nothing else here
    ("agent", []),
])
def test_each_role_sees_the_alerts_it_may_act_on_the_worst_first(everything_wrong, role, seen, request):
    response = home(request.getfixturevalue(f"{role}_client"))

    assert alert_keys(response) == seen
    # no survey follow-up case is overdue here: the managers' cases check is the one all clear
    assert [check.key for check in response.context["all_clear"]] == (["cases"] if role == "manager" else [])


def test_an_analyst_sees_the_drift_without_links_to_member_pages(everything_wrong, analyst_client, member):
    page = home(analyst_client).content.decode()

    assert "Ledger drift" in page and f"/staff/members/{member.pk}/" not in page
    assert "Analytics rollups disagree with the ledger" in page and "for earn" in page


def test_rollups_in_agreement_are_all_clear_and_an_old_run_is_a_warning(manager_client, program):
    run = RollupRun.objects.create(program=program, first_day=NOW.date(), last_day=NOW.date(), trigger="nightly",
                                   rows=2, seconds=0.1, finished_at=NOW - timedelta(hours=3))
    with at(NOW):
        response = home(manager_client)
    assert "rollups" not in alert_keys(response)
    assert "in agreement with the ledger" in response.content.decode()
    RollupRun.objects.filter(pk=run.pk).update(finished_at=NOW - timedelta(days=3))
    with at(NOW):
        assert "rollups" in alert_keys(home(manager_client))


def test_an_agent_gets_the_figures_without_any_check(member, agent_client):
    response = home(agent_client)

    assert response.context["alerts"] == response.context["all_clear"] == []
    page = response.content.decode()
    assert "Needs attention" not in page and "Checks" not in page and 'data-testid="figure-issued"' in page


def test_the_manager_of_another_program_sees_none_of_this_programs_alerts(everything_wrong, other_manager_client):
    response = home(other_manager_client)

    assert alert_keys(response) == []


# --- the page itself ------------------------------------------------------------------------------


def test_the_query_count_is_bounded_whatever_the_size_of_the_program(ledger, berlin, store, manager_client,
                                                                      everything_wrong):
    home(manager_client)  # warm: the earlier days are kept after the first view
    with CaptureQueriesContext(connection) as small:
        home(manager_client)
    with at(NOW - timedelta(hours=2)):
        for n in range(15):
            earn(MemberFactory(program=berlin, store=store), 10 + n)

    with CaptureQueriesContext(connection) as bigger:
        home(manager_client)

    # 15: the overdue survey follow-up cases (one aggregate) and the rollups' latest run (one row)
    assert len(bigger) == len(small) <= 15, [q["sql"][:80] for q in bigger]


def test_the_first_view_of_a_day_reads_the_earlier_days_once(ledger, manager_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(15):  # with the survey cases' aggregate and the rollups' run
        home(manager_client)


def test_signing_in_is_needed_and_only_reading_is_allowed(client, manager_client, db):
    assert client.get("/staff/")["Location"].startswith("/staff/login/")
    assert manager_client.post("/staff/").status_code == 405


@pytest.mark.parametrize("query", ["?program=no-such", "?program=other", "?program=%00"])
def test_another_or_an_unknown_program_is_not_found(manager_client, other_program, query):
    assert manager_client.get(f"/staff/{query}").status_code == 404


def test_junk_in_the_query_string_is_ignored(manager_client):
    assert manager_client.get("/staff/?days=-1&x=%ff&" + "a" * 2000).status_code == 200
