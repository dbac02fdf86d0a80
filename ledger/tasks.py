"""Celery entry points of the ledger: each calls one service (retries on transient database errors
come from the project's task base class, ``loyalty.celery.Task``)."""

import logging
from dataclasses import asdict
from datetime import UTC, datetime

from celery import shared_task
from django.contrib.auth import get_user_model
from django.core.mail import send_mail

from .models import VerificationRun
from .services import ledger_verification_run, lots_expire_due, lots_release_due

logger = logging.getLogger(__name__)


def moment_parse(now: str | None) -> datetime | None:
    """An ISO 8601 moment from a task's arguments (JSON carries strings); UTC when it has no offset."""
    if not now:
        return None
    moment = datetime.fromisoformat(now)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@shared_task(name="ledger.tasks.release_points", acks_late=True)
def release_points(now: str | None = None) -> dict:
    """Hourly: pending points whose date has come become available (set-based, batched; safe to repeat)."""
    return asdict(lots_release_due(now=moment_parse(now)))


@shared_task(name="ledger.tasks.expire_points", acks_late=True)
def expire_points(now: str | None = None) -> dict:
    """Daily: lots past their expiry date lose what is left in them, once (set-based, batched; safe to repeat)."""
    return asdict(lots_expire_due(now=moment_parse(now)))


def _alert_staff(summary: dict, report) -> None:
    recipients = list(get_user_model().objects.filter(is_active=True, is_staff=True).exclude(email="")
                      .order_by("email").values_list("email", flat=True).distinct())
    if not recipients:
        logger.error("ledger drift found and no active staff user has an email address to alert")
        return
    lines = [f"account {a['account']} (member {a['member']}): {a['problems']}" for a in report.accounts[:50]]
    lines += [f"lot {lot['lot']} (account {lot['account']}): {lot['problems']}" for lot in report.lots[:50]]
    send_mail(
        subject=f"Ledger drift: {summary['accounts_drifted']} accounts, {summary['lots_drifted']} lots",
        message=("The nightly ledger verification found cached balances or lots that disagree with the "
                 "entries. Run `manage.py ledger_verify` for the full list.\n\n" + "\n".join(lines)),
        from_email=None, recipient_list=recipients,
    )


@shared_task(name="ledger.tasks.ledger_verify", acks_late=True)
def ledger_verify() -> dict:
    """Nightly: recompute every balance from the entries and the lots; record the run (the staff home shows
    it), log any drift and mail staff about it (read-only but for the run's row, safe to repeat)."""
    report = ledger_verification_run(trigger=VerificationRun.Trigger.TASK).report
    for account in report.accounts:
        logger.error("ledger drift: account %s (member %s): %s", account["account"], account["member"],
                     account["problems"])
    for lot in report.lots:
        logger.error("ledger drift: lot %s (account %s): %s", lot["lot"], lot["account"], lot["problems"])
    summary = {"accounts_checked": report.accounts_checked, "lots_checked": report.lots_checked,
               "accounts_drifted": len(report.accounts), "lots_drifted": len(report.lots)}
    logger.info("ledger verify: %s", summary)
    if not report.ok:
        _alert_staff(summary, report)
    return summary
