from django.core.management.base import BaseCommand

from notifications.services import expiry_warnings_send, outbox_send_due


class Command(BaseCommand):
    help = ("Queue an email to every member with points expiring within their program's warning period "
            "(at most one per member per period), then send what is due. Safe to run again.")

    def add_arguments(self, parser):
        parser.add_argument("--no-send", action="store_true", help="Only queue; leave sending to the workers.")

    def handle(self, *args, no_send: bool = False, **options):
        queued = expiry_warnings_send()
        self.stdout.write(self.style.SUCCESS(f"Expiry warnings queued: {queued}."))
        if not no_send:
            counts = outbox_send_due()
            self.stdout.write(f"Emails sent: {counts['sent']}, to retry: {counts['pending']}, "
                              f"failed: {counts['failed']}.")
