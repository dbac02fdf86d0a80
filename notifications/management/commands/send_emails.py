from django.core.management.base import BaseCommand

from notifications.services import outbox_send_due


class Command(BaseCommand):
    help = "Send every due email in the outbox (new, retry time reached, or its worker died)."

    def handle(self, *args, **options):
        counts = outbox_send_due()
        self.stdout.write(self.style.SUCCESS(
            f"Emails sent: {counts['sent']}, to retry: {counts['pending']}, failed: {counts['failed']}, "
            f"cancelled: {counts['cancelled']}."))
