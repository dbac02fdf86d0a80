import logging

from celery import shared_task

from .services import expiry_warnings_send, outbox_send_due

logger = logging.getLogger(__name__)


@shared_task(name="notifications.tasks.send_email", acks_late=True)
def send_email(dedupe_key: str) -> dict:
    """Send the outbox message ``dedupe_key`` now, if it is due and unclaimed (retries are left to the sweep)."""
    return outbox_send_due(dedupe_key=dedupe_key)


@shared_task(name="notifications.tasks.send_due_emails", acks_late=True)
def send_due_emails() -> dict:
    """Every minute: send every due message, including those whose worker died before finishing."""
    return outbox_send_due()


@shared_task(name="notifications.tasks.send_expiry_warnings", acks_late=True)
def send_expiry_warnings() -> int:
    """Daily: warn members of points expiring soon, once per member per window; safe to rerun."""
    queued = expiry_warnings_send()
    logger.info("expiry warnings: %s queued", queued)
    return queued
