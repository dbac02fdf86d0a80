from django.conf import settings
from django.core.management.base import BaseCommand

from loyalty.idempotency import idempotency_keys_purge


class Command(BaseCommand):
    help = "Delete stored answers to redemption Idempotency-Keys older than IDEMPOTENCY_KEY_RETENTION_HOURS."

    def handle(self, *args, **options):
        purged = idempotency_keys_purge()
        self.stdout.write(f"Purged {purged} stored answer(s) older than "
                          f"{settings.IDEMPOTENCY_KEY_RETENTION_HOURS} hours.")
