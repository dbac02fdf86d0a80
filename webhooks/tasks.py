from celery import shared_task

from .services import webhook_deliver_due


@shared_task(name="webhooks.tasks.deliver_webhook", acks_late=True)
def deliver_webhook(delivery_id: int) -> dict:
    """Attempt one delivery now, if it is due and unclaimed (its retries are picked up by the sweep)."""
    return webhook_deliver_due(pk=delivery_id)


@shared_task(name="webhooks.tasks.deliver_due_webhooks", acks_late=True)
def deliver_due_webhooks() -> dict:
    """Every minute: attempt every delivery whose (re)try time has come, and any whose worker died."""
    return webhook_deliver_due()
