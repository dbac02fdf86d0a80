from ledger.management.lot_jobs import LotJobCommand
from ledger.services import lots_expire_due


class Command(LotJobCommand):
    help = ("Expire what is left in every lot past its expiry date (what the daily task does): set-based, in "
            "batches of accounts, safe to repeat or to run beside the task.")
    service = staticmethod(lots_expire_due)
    done = "expired"
