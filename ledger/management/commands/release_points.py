from ledger.management.lot_jobs import LotJobCommand
from ledger.services import lots_release_due


class Command(LotJobCommand):
    help = ("Release every pending lot whose date has come (what the hourly task does): set-based, in batches "
            "of accounts, safe to repeat or to run beside the task.")
    service = staticmethod(lots_release_due)
    done = "released"
