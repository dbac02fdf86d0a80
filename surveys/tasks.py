import logging

from celery import shared_task

from .services import invitations_send_due

logger = logging.getLogger(__name__)


@shared_task(name="surveys.tasks.send_due_invitations", acks_late=True)
def send_due_invitations() -> dict:
    """Every few minutes: send the survey invitations whose delay has passed (or skip them, saying why)."""
    outcome = invitations_send_due()
    logger.info("survey invitations: %s", outcome)
    return outcome
