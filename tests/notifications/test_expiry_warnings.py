"""Expiry warnings: daily, points expiring within the program's N days, once per member per window."""

from datetime import timedelta

from django.core import mail
from django.core.management import call_command

from ledger.services import points_earn
from notifications.models import NotificationSettings, Outbox
from notifications.services import expiry_warnings_send, outbox_message, outbox_send_due
from notifications.tasks import send_expiry_warnings
from tests.factories import MemberFactory, ProgramFactory, StoreFactory

from .conftest import T0

_keys = iter(range(10**6))


def earn(member, points, expires_in_days):
    points_earn(member=member, points=points, idempotency_key=f"grant-{next(_keys)}", source_type="test",
                actor="test", expires_at=T0 + timedelta(days=expires_in_days))


def warnings_to(member):
    return Outbox.objects.filter(member=member, kind="points_expiring")


def test_a_member_is_warned_once_per_window(clock, member):
    earn(member, 40, expires_in_days=45)
    earn(member, 25, expires_in_days=50)
    earn(member, 99, expires_in_days=200)

    clock.move_to(T0 + timedelta(days=10))
    assert expiry_warnings_send() == 0, "nothing expires within 30 days yet"

    clock.move_to(T0 + timedelta(days=20))
    assert expiry_warnings_send() == 1
    assert expiry_warnings_send() == 0, "a second run the same day"
    for day in range(21, 50):
        clock.move_to(T0 + timedelta(days=day))
        assert expiry_warnings_send() == 0, f"warned again within the window on day {day}"
    outbox_send_due()

    (message,) = mail.outbox
    assert message.subject == "65 of your Coffee Club points expire soon"
    assert "65 of your points expire by" in message.body


def test_the_next_window_warns_again_about_what_expires_then(clock, member):
    earn(member, 40, expires_in_days=45)
    earn(member, 99, expires_in_days=70)

    clock.move_to(T0 + timedelta(days=20))
    assert expiry_warnings_send() == 1
    clock.move_to(T0 + timedelta(days=50))
    assert expiry_warnings_send() == 1

    first, second = warnings_to(member).order_by("created_at")
    assert "40 of your points" in outbox_message(first).text and "99 of your points" in outbox_message(second).text


def test_each_program_sets_its_own_warning_period(clock, program, member):
    other = ProgramFactory(slug="tea", name="Tea Club")
    tea_member = MemberFactory(program=other, store=StoreFactory(program=other))
    NotificationSettings.objects.create(program=other, expiry_warning_days=7)
    earn(member, 10, expires_in_days=20)
    earn(tea_member, 10, expires_in_days=20)

    assert expiry_warnings_send() == 1
    assert warnings_to(member).exists() and not warnings_to(tea_member).exists()

    clock.move_to(T0 + timedelta(days=14))
    assert expiry_warnings_send() == 1
    assert warnings_to(tea_member).exists()


def test_no_warnings_where_the_program_turned_them_off_or_for_spent_or_suspended(clock, program, store):
    keeps = MemberFactory(program=program, store=store, status="suspended")
    earn(keeps, 10, expires_in_days=5)
    spent = MemberFactory(program=program, store=store)
    earn(spent, 10, expires_in_days=5)
    from ledger.services import points_spend

    points_spend(member=spent, points=10, idempotency_key="spend-all", source_type="test", actor="test")
    assert expiry_warnings_send() == 0

    NotificationSettings.objects.create(program=program, expiry_warning_days=0)
    active = MemberFactory(program=program, store=store)
    earn(active, 10, expires_in_days=5)
    assert expiry_warnings_send() == 0


def test_the_warning_is_in_the_members_language(clock, program, store):
    member = MemberFactory(program=program, store=store, language="de")
    earn(member, 12, expires_in_days=3)

    expiry_warnings_send()
    outbox_send_due()

    (message,) = mail.outbox
    assert message.subject == "12 Ihrer Punkte bei Coffee Club verfallen bald"
    assert "März 2026" in message.body


def test_the_task_and_the_command_run_the_same_job(clock, program, store, capsys):
    first = MemberFactory(program=program, store=store)
    earn(first, 10, expires_in_days=5)
    assert send_expiry_warnings.delay().get() == 1

    second = MemberFactory(program=program, store=store)
    earn(second, 10, expires_in_days=5)
    call_command("send_expiry_warnings")

    assert "Expiry warnings queued: 1." in capsys.readouterr().out
    assert len(mail.outbox) == 2
