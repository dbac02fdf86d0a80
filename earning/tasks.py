import logging
from datetime import date

from celery import shared_task

from .services import birthday_bonuses_grant

logger = logging.getLogger(__name__)


@shared_task(name="earning.tasks.grant_birthday_bonuses", acks_late=True)
def grant_birthday_bonuses(on: str | None = None) -> int:
    """Daily: birthday bonuses for members whose birthday is today in their program's time zone, once a year
    each; safe to rerun."""
    granted = birthday_bonuses_grant(on=date.fromisoformat(on) if on else None)
    logger.info("birthday bonuses: %s members credited", granted)
    return granted
