from datetime import date

from django.core.management.base import BaseCommand, CommandError

from earning.services import birthday_bonuses_grant


class Command(BaseCommand):
    help = ("Credit the birthday rules to every active member whose birthday is today (UTC), or on --date; "
            "each member at most once a year, so running it again changes nothing.")

    def add_arguments(self, parser):
        parser.add_argument("--date", dest="on", help="The day to grant for, YYYY-MM-DD (default: today in UTC).")

    def handle(self, *args, on: str | None = None, **options):
        try:
            day = date.fromisoformat(on) if on else None
        except ValueError:
            raise CommandError("--date must be YYYY-MM-DD.") from None
        granted = birthday_bonuses_grant(on=day)
        self.stdout.write(self.style.SUCCESS(f"Birthday bonuses credited to {granted} members."))
