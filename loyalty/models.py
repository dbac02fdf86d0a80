from django.db import models

# The one scope whose keys the client makes up (a redemption's Idempotency-Key): its answers are purged
# after IDEMPOTENCY_KEY_RETENTION_HOURS (``loyalty.idempotency.idempotency_keys_purge``).
PURGED_SCOPE = "redemption"


class IdempotencyRecord(models.Model):
    """The answer given to one (store, scope, key) request, kept so a retry gets the same answer.

    The row is inserted before the work starts, in the same database transaction,
    so a concurrent duplicate blocks on the unique index and then replays.
    """

    store = models.ForeignKey("programs.Store", on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=32, help_text="purchase, return, event, redemption, …")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(default=0)
    response_body = models.JSONField(default=dict)
    # Indexed only where the purge reads it (below): every POS write inserts a row here.
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "scope", "key"], name="idempotency_unique_per_store_scope"),
        ]
        indexes = [  # the purge's scan: only the rows it may delete
            models.Index(fields=["created_at"], condition=models.Q(scope=PURGED_SCOPE), name="idempotency_purge_idx"),
        ]

    def __str__(self):
        return f"{self.scope}:{self.key} → {self.response_status}"
