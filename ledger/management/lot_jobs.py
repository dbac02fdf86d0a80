"""What the release_points and expire_points commands share."""

from django.core.management.base import BaseCommand, CommandError

from ledger.tasks import moment_parse


class LotJobCommand(BaseCommand):
    service = None  # lots_release_due or lots_expire_due
    done = ""

    def add_arguments(self, parser):
        parser.add_argument("--now", help="Run as of this moment (ISO 8601, e.g. 2026-01-31T00:00:00+00:00); "
                                          "default: the current time. A moment without an offset is UTC.")
        parser.add_argument("--batch-size", type=int, default=5000, help="Accounts per batch (one transaction).")

    def handle(self, *args, now=None, batch_size, **options):
        try:
            moment = moment_parse(now)
        except ValueError:
            raise CommandError(f"--now: not an ISO 8601 moment: {now!r}") from None
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        run = self.service(now=moment, batch_size=batch_size)
        self.stdout.write(f"{run.lots} lots {self.done} over {run.accounts} accounts in {run.batches} batch(es) "
                          f"({run.one_by_one} accounts caught up one by one).")
