"""The member's statement as staff read it: every ledger line with why it happened, what the member sees, an
internal note, who or what caused it, and a link to what it came from or reverses.

A page of entries is read in one query; what the lines point at (purchases, returns, redemptions, staff
adjustments, the lots that were released or expired, users and POS keys) is read in one query per kind
for the whole page, so a page costs the same handful of queries however its lines are made up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from earning.models import Purchase, Return
from ledger.models import Kind, LedgerEntry
from ledger.selectors import lot_origins, statement_page
from programs.models import StoreApiKey
from rewards.models import Redemption

from ..models import Adjustment

PAGE_SIZE = 25
MAX_PAGE = 2000  # a statement of 50,000 lines; past that a link is typed, not followed

SYSTEM_ACTORS = {
    "system:release": "Automatic release of pending points",
    "system:expiry": "Automatic expiry of points",
    "system:signup": "Enrolment",
    "system:birthday": "The daily birthday run",
    "system:voucher-expiry": "The daily voucher expiry",
    "task:tier_recalculate": "The nightly tier recalculation",
}


@dataclass
class StatementLine:
    entry: LedgerEntry
    why: str  # why it happened, in a sentence
    member_sees: str
    note: str  # internal: for staff only
    by: str
    total_after: int  # the statement's total (available + pending − debt) after this line
    source: tuple[str, str] | None = None  # (text, url) of what it came from
    reverses: tuple[str, str] | None = None  # (text, url) of what it corrects


@dataclass
class Statement:
    lines: list[StatementLine]
    page: int
    has_next: bool


def purchase_url(member, purchase_id) -> str:
    return reverse("staff:member-purchase", args=[member.pk, purchase_id])


def entry_url(member, transaction_id) -> str:
    return reverse("staff:member-statement-entry", args=[member.pk, transaction_id])


def _ids(entries, source_type: str) -> set[str]:
    return {e.transaction.source_id for e in entries if e.transaction.source_type == source_type}


def actor_names(actors: set[str], *, member) -> dict[str, str]:
    """Each ledger actor (``user:<id>``, ``api_key:<id>``, ``system:…``) as staff read it: a user, a till, a job.

    Two queries at most, for all of them."""
    users = {int(a[5:]) for a in actors if a.startswith("user:") and a[5:].isdigit()}
    keys = {int(a[8:]) for a in actors if a.startswith("api_key:") and a[8:].isdigit()}
    usernames = dict(get_user_model().objects.filter(pk__in=users).values_list("pk", "username")) if users else {}
    tills = {k.pk: k for k in StoreApiKey.objects.filter(pk__in=keys).select_related("store")} if keys else {}
    names = {}
    for actor in actors:
        kind, _, ident = actor.partition(":")
        if kind == "user" and ident.isdigit():
            if int(ident) == member.user_id:
                names[actor] = "The member, signed in to the portal"
            else:
                name = usernames.get(int(ident))
                names[actor] = f"{name} (staff)" if name else "A former staff user"
        elif kind == "api_key" and ident.isdigit():
            key = tills.get(int(ident))
            names[actor] = f"Till key “{key.name}” at {key.store.name}" if key else "A till (its key is gone)"
        else:
            names[actor] = SYSTEM_ACTORS.get(actor, actor or "Unknown")
    return names


class _Sources:
    """What one page of entries points at, each kind read once."""

    def __init__(self, member, entries: list[LedgerEntry]):
        self.member = member
        lots = {int(e.transaction.source_id) for e in entries
                if e.transaction.source_type == "lot" and e.transaction.source_id.isdigit()}
        self.origins = lot_origins(lot_ids=lots) if lots else {}
        purchase_ids = _ids(entries, "purchase") | {o.transaction.source_id for o in self.origins.values()
                                                    if o.transaction.source_type == "purchase"}
        self.returns = self._by_pk(Return.objects.filter(purchase__member=member).select_related("purchase"),
                                   _ids(entries, "return"))
        purchase_ids |= {str(r.purchase_id) for r in self.returns.values()}
        self.purchases = self._by_pk(Purchase.objects.filter(member=member).select_related("store"), purchase_ids)
        self.redemptions = self._by_pk(Redemption.objects.filter(member=member).select_related("reward")
                                       .prefetch_related("history"), _ids(entries, "redemption"))
        staff_txns = [e.transaction_id for e in entries if e.transaction.source_type == "staff"]
        self.adjustments = {a.transaction_id: a for a in Adjustment.objects.filter(
            member=member, transaction_id__in=staff_txns).select_related("requested_by", "decided_by")} \
            if staff_txns else {}
        self.actors = actor_names({e.transaction.actor for e in entries}, member=member)

    @staticmethod
    def _by_pk(queryset, ids: set[str]) -> dict[str, object]:
        valid = [i for i in ids if is_uuid(i)]
        return {str(obj.pk): obj for obj in queryset.filter(pk__in=valid)} if valid else {}

    def actor(self, actor: str) -> str:
        return self.actors[actor]

    def purchase_link(self, purchase_id: str, text: str = "Explain these points") -> tuple[str, str] | None:
        return (text, purchase_url(self.member, purchase_id)) if purchase_id in self.purchases else None

    def describe(self, entry: LedgerEntry) -> tuple[str, str, tuple | None, tuple | None]:
        """(why, internal note, source link, reverses link) of one entry."""
        txn = entry.transaction
        source, ident = txn.source_type, txn.source_id
        if source == "purchase" and (purchase := self.purchases.get(ident)):
            rules = ", ".join(f"{line['rule']} {line['points']:,}" for line in purchase.breakdown or [])
            return (f"Purchase {purchase.external_id} at {purchase.store.name}, {purchase.total} {purchase.currency}",
                    f"The till's breakdown: {rules}." if rules else "", self.purchase_link(ident), None)
        if source == "return" and (refund := self.returns.get(ident)):
            bought = refund.purchase
            why = (f"Return {refund.external_id}: {refund.amount} of the {bought.total} {bought.currency} of purchase "
                   f"{bought.external_id} came back, so its points are taken back in proportion")
            note = "A return of points already spent leaves a debt that new points pay first." if entry.debt_delta \
                else ""
            link = self.purchase_link(str(bought.pk), f"Purchase {bought.external_id}")
            return why, note, link, link
        if source == "redemption" and (redemption := self.redemptions.get(ident)):
            status = redemption.get_status_display().lower()
            if entry.kind == Kind.REFUND:
                change = next((h for h in redemption.history.all() if h.to_status == redemption.status), None)
                why = (f"Voucher {redemption.voucher_code} for {redemption.reward.name} was {status}: "
                       "its points went back")
                note = f"Why: {change.reason}." if change is not None and change.reason else ""
                reverses = (f"The redemption of {redemption.reward.name}", entry_url(self.member, txn.reverses_id)) \
                    if txn.reverses_id else None
                return why, note, None, reverses
            return (f"Redeemed {redemption.reward.name}: voucher {redemption.voucher_code}, now {status}", "", None,
                    None)
        if source == "staff":
            return self._adjustment(entry)
        if source == "lot" and (origin := self.origins.get(int(ident) if ident.isdigit() else None)):
            came = self._origin(origin)
            link = self.purchase_link(origin.transaction.source_id, "Where they came from") \
                if origin.transaction.source_type == "purchase" else None
            if entry.kind == Kind.RELEASE:
                return f"Points from {came} are available now: the return window is over", "", link, None
            return (f"Points from {came} reached their expiry date unspent",
                    f"The lot held {origin.points:,} when earned; {-entry.points:,} were left.", link, None)
        return self._plain(entry)

    def _origin(self, origin: LedgerEntry) -> str:
        txn = origin.transaction
        if txn.source_type == "purchase" and (purchase := self.purchases.get(txn.source_id)):
            return f"purchase {purchase.external_id} of {timezone.localtime(purchase.occurred_at):%-d %b %Y}"
        what = origin.description or origin.get_kind_display()
        return f"“{what}” of {timezone.localtime(origin.created_at):%-d %b %Y}"

    def _adjustment(self, entry: LedgerEntry):
        adjustment = self.adjustments.get(entry.transaction_id)
        if adjustment is None:
            return "Adjusted by hand", entry.transaction.reason, None, None
        why = f"Adjusted by staff: {adjustment.get_reason_code_display()}"
        asked = adjustment.requested_by.get_username() if adjustment.requested_by else "a former user"
        note = [f"Asked by {asked} on {adjustment.requested_at:%-d %b %Y}."]
        if adjustment.decided_by is not None:
            note.append(f"Approved by {adjustment.decided_by.get_username()}"
                        + (f": “{adjustment.decision_note}”." if adjustment.decision_note else "."))
        if adjustment.batch:
            note.append("From a bulk file.")
        return why, " ".join(note), None, None

    @staticmethod
    def _plain(entry: LedgerEntry):
        txn = entry.transaction
        why = {
            "signup": "Bonus for joining", "referral": "Referral bonus", "birthday": "Birthday bonus",
            "event": "Activity reported by a till", "transfer": "Points moved between members",
        }.get(txn.source_type, entry.get_kind_display())
        note = txn.reason if txn.reason and txn.reason != entry.description else ""
        return why, note, None, None


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def member_statement(*, member, account, page: int) -> Statement:
    """One page of the member's statement, newest first, each line explained."""
    page = min(max(1, page), MAX_PAGE)
    if account is None:
        return Statement(lines=[], page=1, has_next=False)
    entries, newer = statement_page(account=account, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)
    has_next = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    sources = _Sources(member, entries) if entries else None
    total = account.available + account.pending - account.debt - newer
    lines = []
    for entry in entries:
        why, note, source, reverses = sources.describe(entry)
        lines.append(StatementLine(entry=entry, why=why, member_sees=entry.description, note=note,
                                   by=sources.actor(entry.transaction.actor), total_after=total, source=source,
                                   reverses=reverses))
        total -= entry.points
    return Statement(lines=lines, page=page, has_next=has_next)
