from celery import shared_task

from .services import vouchers_expire_due


@shared_task(acks_late=True)
def expire_vouchers() -> int:
    return vouchers_expire_due()
