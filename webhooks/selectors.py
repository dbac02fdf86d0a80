"""Reads of a program's webhooks for the people who watch over them."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from .models import WebhookDelivery

RECENT = 100  # deliveries per endpoint that say how it is doing now


@dataclass(frozen=True)
class EndpointHealth:
    """How an active endpoint's latest deliveries went."""

    id: int
    url: str
    description: str
    failed: int  # given up after every retry, among the latest RECENT deliveries
    retrying: int  # tried, failed, and waiting for their next attempt, among the same
    failing: bool  # the newest delivery that was tried did not get through (yet)
    last_error: str
    last_error_at: datetime | None  # when the delivery that saw ``last_error`` was queued


_HEALTH_SQL = """
SELECT e.id, e.url, e.description, r.failed, r.retrying, r.newest_tried_status, r.last_error, r.last_error_at
FROM webhooks_webhookendpoint e
CROSS JOIN LATERAL (
    SELECT COUNT(*) FILTER (WHERE status = 'failed') AS failed,
           COUNT(*) FILTER (WHERE status = 'pending' AND attempts > 0) AS retrying,
           (ARRAY_AGG(status ORDER BY created_at DESC) FILTER (WHERE attempts > 0))[1] AS newest_tried_status,
           (ARRAY_AGG(last_error ORDER BY created_at DESC) FILTER (WHERE last_error <> ''))[1] AS last_error,
           MAX(created_at) FILTER (WHERE last_error <> '') AS last_error_at
    FROM (
        -- the newest deliveries straight from webhook_delivery_log_idx (endpoint, -created_at): a busy
        -- endpoint's history is never read beyond them
        SELECT status, attempts, last_error, created_at FROM webhooks_webhookdelivery d
        WHERE d.endpoint_id = e.id ORDER BY d.created_at DESC LIMIT %(recent)s
    ) recent
) r
WHERE e.program_id = %(program)s AND e.active
ORDER BY e.url, e.id
"""


def endpoints_health(*, program) -> list[EndpointHealth]:
    """Every active endpoint of the program with how its latest deliveries went, in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(_HEALTH_SQL, {"program": program.pk, "recent": RECENT})
        rows = cursor.fetchall()
    return [
        EndpointHealth(id=pk, url=url, description=description, failed=failed, retrying=retrying,
                       failing=newest_tried is not None and newest_tried != WebhookDelivery.Status.SUCCEEDED,
                       last_error=last_error or "", last_error_at=last_error_at)
        for pk, url, description, failed, retrying, newest_tried, last_error, last_error_at in rows
    ]
