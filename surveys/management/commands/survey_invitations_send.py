from django.core.management.base import BaseCommand

from surveys.services import invitations_send_due


class Command(BaseCommand):
    help = "Send the survey invitations that are due (what the periodic task does); safe to run at any time."

    def handle(self, *args, **options):
        outcome = invitations_send_due()
        self.stdout.write(f"Survey invitations: {outcome['sent']} sent, {outcome['skipped']} skipped.")
