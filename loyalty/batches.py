"""Which members a batch job reads: the apps' per-member statistics take the same two ways of naming them."""

from __future__ import annotations

from django.db.models import Q


def member_batch(member_ids=None, id_range: tuple | None = None) -> Q:
    """The rows of the members among ``member_ids``, or of those with ids in ``id_range`` (``(after, up to)``,
    ``after`` None for the first batch), as a filter on a ``member_id`` column."""
    if id_range is None:
        return Q(member_id__in=list(member_ids))
    after, upto = id_range
    return Q(member_id__lte=upto) if after is None else Q(member_id__gt=after, member_id__lte=upto)
