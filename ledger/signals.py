"""What the ledger announces for the apps above it (``loyalty.events`` has the single events)."""

from django.dispatch import Signal

# Points that expired, in the transaction that expired them: ``expired``, (account, points) pairs (an account
# is anything with ``pk``, ``member_id`` and ``program_id``); ``run_key``, the run or batch, from which event ids
# derive, so a rerun announces nothing twice; ``now``.
points_expired = Signal(use_caching=True)
