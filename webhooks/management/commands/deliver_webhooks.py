from django.core.management.base import BaseCommand

from webhooks.services import webhook_deliver_due


class Command(BaseCommand):
    help = "Attempt every webhook delivery that is due (new, retry time reached, or its worker died)."

    def handle(self, *args, **options):
        counts = webhook_deliver_due()
        self.stdout.write(self.style.SUCCESS(
            f"Webhooks: {counts['succeeded']} delivered, {counts['pending']} to retry, {counts['failed']} failed."))
