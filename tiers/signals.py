"""What tiers announce for the apps above them (``loyalty.events`` has the single events)."""

from django.dispatch import Signal

# Tier changes a batch recalculation wrote, in the batch's transaction: ``program`` and ``changes``, a
# queryset of the ``TierChange`` rows, each to be announced as ``tier.changed`` exactly as a single change
# is (``tiers.events.tier_change_events`` gives them as events).
tier_changes_recorded = Signal()
