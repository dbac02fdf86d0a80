"""Finding a member, the member page, and the pages that explain a member's points and tier."""

from __future__ import annotations

from django import forms
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from earning.explain import purchase_explain
from earning.models import Purchase, Return
from ledger.selectors import statement_position
from members.models import Member
from members.selectors import SEARCH_LIMIT, SEARCH_MAX_LENGTH, member_search
from members.services import member_is_anonymised
from tiers.selectors import member_tier_get, qualifying_activity_before, qualifying_activity_list

from ..access import staff_object, staff_view
from .page import member_account, page_number, program_zone, render_member_page, tier_context
from .statement import PAGE_SIZE, actor_names, is_uuid

ACTIVITY_SHOWN = 200
BIGGEST_ID = 2**63 - 1  # a longer number in the address names no row (and PostgreSQL would refuse it)


class SearchForm(forms.Form):
    q = forms.CharField(
        label="Find a member", max_length=SEARCH_MAX_LENGTH,
        help_text="A name, an email, a phone number or a card number.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off", "spellcheck": "false",
                                      "autofocus": True}))


@require_safe
@staff_view("member.view")
def member_search_page(request):
    program = request.staff.program
    # Only a query with something in it is a search: an empty box shows the page as it first opens.
    form = SearchForm(request.GET if request.GET.get("q", "").strip() else None)
    result = None
    if form.is_bound and form.is_valid():
        result = member_search(program=program, query=form.cleaned_data["q"], page=page_number(request))
        if result.problem:
            form.add_error("q", result.problem)
        for member in result.members:  # the entry tier for members without a status row (memoised ladder)
            member.tier_shown = member_tier_get(member=member)
    return render(request, "staff/members/search.html", {
        "form": form, "result": result, "limit": SEARCH_LIMIT, "program": program,
        "several_programs": len(request.staff.programs) > 1,
    })


def _member(request, member_id) -> Member:
    queryset = Member.objects.select_related("program", "account", "tier_status__tier", "enrolled_store",
                                             "referred_by")
    return staff_object(request, queryset, "member.view", pk=member_id)


@require_safe
@staff_view("member.view", record=True)
def member_detail(request, member_id):
    return render_member_page(request, _member(request, member_id))


@require_safe
@staff_view("member.view", record=True)
def member_statement_entry(request, member_id, transaction_id: int):
    """The statement page holding the member's entry of a ledger transaction, scrolled to it: where the link
    to what a line reverses leads."""
    member = _member(request, member_id)
    account = member_account(member)
    newer = None
    if account is not None and transaction_id <= BIGGEST_ID:
        newer = statement_position(account=account, transaction_id=transaction_id)
    if newer is None:
        raise Http404("No such line on this member's statement.")
    page = newer // PAGE_SIZE + 1
    url = reverse("staff:member", args=[member.pk]) + (f"?page={page}" if page > 1 else "")
    return HttpResponseRedirect(f"{url}#txn-{transaction_id}")


@require_safe
@staff_view("member.view", record=True)
def purchase_explain_page(request, member_id, purchase_id):
    """Explain these points: the rules a purchase's breakdown came from, with the values they saw."""
    purchase = staff_object(request, Purchase.objects.select_related("program", "store", "member__program"),
                            "member.view", pk=purchase_id, member_id=member_id)
    member = purchase.member
    with timezone.override(program_zone(purchase.program)):
        return render(request, "staff/members/purchase_explain.html", {
            "member": member, "anonymised": member_is_anonymised(member), "purchase": purchase,
            "recorded_by": actor_names({purchase.actor}, member=member)[purchase.actor],
            "explanation": purchase_explain(purchase=purchase),
            "returns": list(purchase.returns.order_by("created_at")),
        })


@require_safe
@staff_view("member.view", record=True)
def tier_explain_page(request, member_id):
    """Which activity counted towards the member's tier in the qualifying window, and which no longer does."""
    member = _member(request, member_id)
    tier = tier_context(member)
    window_start = tier["progress"].window_start
    counted = qualifying_activity_list(member=member, since=window_start, limit=ACTIVITY_SHOWN + 1)
    receipts = _activity_receipts(member, counted)
    with timezone.override(program_zone(member.program)):
        return render(request, "staff/members/tier_explain.html", {
            "member": member, "anonymised": member_is_anonymised(member), **tier,
            "counted": [(a, receipts.get((a.source_type, a.source_id))) for a in counted[:ACTIVITY_SHOWN]],
            "counted_more": len(counted) > ACTIVITY_SHOWN, "shown": ACTIVITY_SHOWN,
            "earlier": qualifying_activity_before(member=member, until=window_start, limit=5),
        })


def _activity_receipts(member, activities) -> dict[tuple[str, str], tuple[str, str]]:
    """``(source_type, source_id)`` → (receipt, purchase id) for the purchases and returns among ``activities``:
    each links to the purchase it counted for. Two queries at most."""
    purchase_ids = [a.source_id for a in activities if a.source_type == "purchase" and is_uuid(a.source_id)]
    return_ids = [a.source_id for a in activities if a.source_type == "return" and is_uuid(a.source_id)]
    found = {}
    if purchase_ids:
        for pk, receipt in Purchase.objects.filter(member=member, pk__in=purchase_ids).values_list("pk", "external_id"):
            found["purchase", str(pk)] = (receipt, str(pk))
    if return_ids:
        for pk, receipt, bought in Return.objects.filter(purchase__member=member, pk__in=return_ids).values_list(
                "pk", "purchase__external_id", "purchase_id"):
            found["return", str(pk)] = (receipt, str(bought))
    return found
