"""What members announce for the apps above them."""

from django.dispatch import Signal

# A member was enrolled, in the enrolment's transaction (``member``). The ledger opens the member's account
# and earning grants the signup bonus; the ledger's receiver comes first, as its app does in INSTALLED_APPS.
member_enrolled = Signal()

# A member was anonymised at their request, in that transaction (``member``, already wiped). Apps that keep
# copies of the person's details (the email outbox) remove them.
member_anonymised = Signal()
