"""Read-only views of the ledger: staff move points through services (adjustments), never by editing rows."""

from django.contrib import admin

from loyalty.admin import ReadOnlyAdmin, ReadOnlyInline

from .models import LedgerEntry, LedgerTransaction, PointsAccount, PointsLot


@admin.register(PointsAccount)
class PointsAccountAdmin(ReadOnlyAdmin):
    list_display = ("pk", "member", "program", "available", "pending", "debt", "updated_at")
    list_filter = ("program",)
    search_fields = ("member__card_number", "member__email")
    list_select_related = ("member", "program")


class LedgerEntryInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ("account", "kind", "points", "available_delta", "pending_delta", "debt_delta", "description")


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("pk", "kind", "program", "source_type", "source_id", "actor", "created_at")
    list_filter = ("program", "kind")
    search_fields = ("idempotency_key", "source_id")
    inlines = [LedgerEntryInline]


@admin.register(PointsLot)
class PointsLotAdmin(ReadOnlyAdmin):
    list_display = ("pk", "account", "amount", "remaining", "released", "available_at", "expires_at", "expired")
    list_filter = ("program", "released", "expired")
    raw_id_fields = ("account",)
