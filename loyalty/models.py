from django.db import models


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
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "scope", "key"], name="idempotency_unique_per_store_scope"),
        ]

    def __str__(self):
        return f"{self.scope}:{self.key} → {self.response_status}"
