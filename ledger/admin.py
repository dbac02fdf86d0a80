"""Read-only views of the ledger: staff move points through services (adjustments), never by editing rows."""

from django.contrib import admin

from loyalty.admin import ReadOnlyAdmin, ReadOnlyInline, flag_filter

from .models import LedgerEntry, LedgerTransaction, PointsAccount, PointsLot, VerificationRun


@admin.register(PointsAccount)
class PointsAccountAdmin(ReadOnlyAdmin):
    list_display = ("member", "program", "available", "pending", "debt", "updated_at")
    list_filter = ("program",)
    search_fields = ("member__card_number", "member__email")
    list_select_related = ("member", "program")


class LedgerEntryInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ("account", "kind", "points", "available_delta", "pending_delta", "debt_delta", "description")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__member")


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "member", "points", "program", "actor")
    list_filter = ("program", "kind")
    list_select_related = ("program",)
    search_fields = ("idempotency_key", "source_id")
    inlines = [LedgerEntryInline]

    def get_queryset(self, request):
        # a page of transactions reads its entries' members in three queries, whatever its length
        return super().get_queryset(request).prefetch_related("entries__account__member")

    @admin.display(description="member")
    def member(self, transaction: LedgerTransaction) -> str:
        return ", ".join(sorted({str(entry.account.member) for entry in transaction.entries.all()}))

    @admin.display(description="points")
    def points(self, transaction: LedgerTransaction) -> int:
        return sum(entry.points for entry in transaction.entries.all())


@admin.register(PointsLot)
class PointsLotAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "member", "remaining", "available_at", "expires_at", "state")
    list_filter = ("program", flag_filter("released", "release", "Released", "Pending"),
                   flag_filter("expired", "expiry", "Expired", "Not expired"))
    list_select_related = ("account__member",)
    raw_id_fields = ("account",)

    @admin.display(description="member")
    def member(self, lot: PointsLot):
        return lot.account.member

    @admin.display(description="state")
    def state(self, lot: PointsLot) -> str:
        if lot.expired:
            return "Expired"
        if not lot.released:
            return "Pending"
        return "Available" if lot.remaining else "Spent"


@admin.register(VerificationRun)
class VerificationRunAdmin(ReadOnlyAdmin):
    list_display = ("finished_at", "trigger", "accounts_checked", "lots_checked", "result")
    list_filter = ("trigger",)

    @admin.display(description="result")
    def result(self, run: VerificationRun) -> str:
        if run.ok:
            return "consistent"
        return f"drift: {run.accounts_drifted} accounts, {run.lots_drifted} lots"
