from django.core.management.base import BaseCommand, CommandError

from ledger.models import VerificationRun
from ledger.services import ledger_verification_run


class Command(BaseCommand):
    help = ("Recompute every points account from its entries and from its lots and report any difference "
            "from the cached balances; exits non-zero when anything drifted.")

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=5000, help="Accounts per set of aggregate queries.")

    def handle(self, *args, batch_size, **options):
        # Recorded, as the nightly task's runs are: the staff home shows the latest result.
        report = ledger_verification_run(trigger=VerificationRun.Trigger.COMMAND, batch_size=batch_size).report
        for account in report.accounts:
            details = "; ".join(f"{name} {values}" for name, values in account["problems"].items())
            self.stdout.write(f"DRIFT account {account['account']} (member {account['member']}): {details}")
        for lot in report.lots:
            self.stdout.write(
                f"DRIFT lot {lot['lot']} (account {lot['account']}): amount {lot['amount']}, "
                f"remaining {lot['remaining']}, movements {lot['moved']:+d}: {', '.join(lot['problems'])}"
            )
        summary = (f"{report.accounts_checked} accounts and {report.lots_checked} lots checked; "
                   f"{len(report.accounts)} accounts and {len(report.lots)} lots drifted.")
        if not report.ok:
            raise CommandError(f"Ledger drift: {summary}")
        self.stdout.write(self.style.SUCCESS(f"Ledger consistent: {summary}"))
