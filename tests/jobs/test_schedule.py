"""The beat schedule, the shared task options, and the nightly ledger check's alert."""

from celery.schedules import crontab
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail

from ledger.models import PointsAccount
from ledger.tasks import ledger_verify
from loyalty.celery import app, for_each_program
from tests.factories import ProgramFactory
from tests.ledger.support import earn


def test_every_scheduled_job_is_a_registered_task_on_a_schedule():
    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert {entry["task"] for entry in schedule.values()} >= {
        "ledger.tasks.release_points", "ledger.tasks.expire_points", "ledger.tasks.ledger_verify",
        "rewards.tasks.expire_vouchers", "earning.tasks.grant_birthday_bonuses", "loyalty.for_each_program",
        "notifications.tasks.send_expiry_warnings", "notifications.tasks.send_due_emails",
        "webhooks.tasks.deliver_due_webhooks",
    }
    for name, entry in schedule.items():
        assert entry["task"] in app.tasks, name
        # the outbox sweeps run every minute; everything else at a fixed time of day or hour
        assert isinstance(entry["schedule"], crontab) or entry["schedule"] == 60.0, name
    assert schedule["release-pending-points"]["schedule"] == crontab(minute=5)  # hourly
    assert schedule["recalculate-tiers"]["args"] == ["tiers.tasks.tier_recalculate_program"]


def test_every_task_is_acked_late_and_retries_transient_database_errors():
    from django.db import InterfaceError, OperationalError

    app.loader.import_default_modules()
    assert app.conf.task_serializer == "json" and app.conf.accept_content == ["json"]
    assert app.conf.task_time_limit and app.conf.task_soft_time_limit < app.conf.task_time_limit
    for name, task in app.tasks.items():
        if name.startswith("celery."):
            continue
        assert task.acks_late or app.conf.task_acks_late, name
        assert {OperationalError, InterfaceError} <= set(task.autoretry_for) and task.retry_backoff, name
        assert task.retry_jitter and task.max_retries == 5, name


def test_tier_recalculation_runs_for_every_program(db, monkeypatch):
    programs = [ProgramFactory(), ProgramFactory()]
    sent = []
    app.loader.import_default_modules()
    monkeypatch.setattr(app.tasks["tiers.tasks.tier_recalculate_program"], "delay", sent.append)

    assert for_each_program.delay("tiers.tasks.tier_recalculate_program").get() == 2

    assert sorted(sent) == sorted(str(p.pk) for p in programs)


def test_the_nightly_check_mails_staff_when_the_ledger_drifted(member):
    get_user_model().objects.create_user("ops", email="ops@example.com", password="x", is_staff=True)
    get_user_model().objects.create_user("shopper", email="shopper@example.com", password="x")
    earn(member, 100)
    assert ledger_verify.delay().get()["accounts_drifted"] == 0
    assert mail.outbox == []

    PointsAccount.objects.filter(member=member).update(available=150)
    summary = ledger_verify.delay().get()

    assert summary["accounts_drifted"] == 1
    (message,) = mail.outbox
    assert message.to == ["ops@example.com"]
    assert "Ledger drift: 1 accounts" in message.subject


def test_running_the_nightly_per_program_job_leaves_the_workers_logging_as_it_was(db, monkeypatch):
    import logging

    ProgramFactory()
    app.loader.import_default_modules()
    monkeypatch.setattr(app.tasks["tiers.tasks.tier_recalculate_program"], "delay", lambda program_id: None)
    handlers = list(logging.getLogger().handlers)

    for_each_program.delay("tiers.tasks.tier_recalculate_program")

    assert logging.getLogger().handlers == handlers
