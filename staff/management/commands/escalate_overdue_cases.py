from django.core.management.base import BaseCommand

from staff.escalations import overdue_cases_escalate


class Command(BaseCommand):
    help = "Email each program's managers the survey follow-up cases that became overdue (the hourly job)."

    def handle(self, *args, **options):
        self.stdout.write(f"Overdue survey cases escalated: {overdue_cases_escalate()}.")
