"""The member's pages: home (points and card) and activity; rewards and vouchers are in ``rewards.py``."""

from __future__ import annotations

from datetime import timedelta

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from ledger.models import Kind
from ledger.selectors import account_balance_get, account_open_lots, statement_page
from loyalty.images import image_response
from programs.models import Program
from rewards.models import Redemption
from tiers.selectors import member_tier_progress

from .access import page_number, portal_view, program_zone
from .qr import barcode_svg, qr_svg
from .recovery import email_notice
from .surveys import open_surveys
from .templatetags.portal_format import money, number

PAGE_SIZE = 20
EXPIRY_DATES_SHOWN = 6


@require_safe
def index(request):
    """The only program's portal, or the list of programs to choose from."""
    programs = list(Program.objects.order_by("name"))
    if len(programs) == 1:
        return redirect("portal:home", programs[0].slug)
    return render(request, "portal/index.html", {"programs": programs})


@require_safe
@cache_control(max_age=3600, public=True)
def brand_css(request, program_slug: str):
    """The program's colours as a stylesheet: the Content-Security-Policy allows no inline style."""
    program = Program.objects.filter(slug=program_slug).first()
    if program is None:
        raise Http404("No such program.")
    accent = program.accent_color if len(program.accent_color or "") == 7 else "#4a3fe0"
    ink = "#ffffff" if _contrast(accent, "#ffffff") >= 4.5 else "#101828"
    # Text in the accent colour must read on white; a pale accent falls back to near-black for text.
    text = accent if _contrast(accent, "#ffffff") >= 4.5 else "#101828"
    css = f":root {{ --portal-accent: {accent}; --portal-accent-ink: {ink}; --portal-accent-text: {text}; }}\n"
    return HttpResponse(css, content_type="text/css; charset=utf-8")


@require_safe
def logo(request, program_slug: str):
    """The program's logo: public, as it stands on the sign-in page."""
    program = Program.objects.filter(slug=program_slug).first()
    if program is None:
        raise Http404("No such program.")
    return image_response(program.logo, cache_control="public, max-age=3600")


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)



@require_safe
@portal_view()
def home(request):
    member = request.member
    account = getattr(member, "account", None)
    balance = account_balance_get(member=member)
    zone = program_zone(member.program)
    pending: dict = {}
    expiring: dict = {}
    for lot in account_open_lots(account=account) if account is not None else []:
        if not lot.released:
            day = lot.available_at.astimezone(zone).date()
            pending[day] = pending.get(day, 0) + lot.remaining
        elif lot.expires_at is not None:
            day = lot.expires_at.astimezone(zone).date()
            expiring[day] = expiring.get(day, 0) + lot.remaining
    expiring_days = sorted(expiring.items())
    card_words = {"number": member.card_number}
    return render(request, "portal/home.html", {
        "balance": balance,
        "pending_days": sorted(pending.items()),
        "expiring_days": expiring_days[:EXPIRY_DATES_SHOWN],
        "expiring_later": sum(points for _day, points in expiring_days[EXPIRY_DATES_SHOWN:]),
        "tier_targets": _tier_targets(member_tier_progress(member=member), member.program),
        "card_qr": qr_svg(member.card_number, label=_("QR code of your card %(number)s") % card_words),
        "card_barcode": barcode_svg(member.card_number, label=_("Barcode of your card %(number)s") % card_words),
        "surveys": open_surveys(request),
        "vouchers": Redemption.objects.filter(member=member, status=Redemption.Status.ISSUED)
        .select_related("reward").order_by("-issued_at")[:5],
        "email_notice": email_notice(request),
    })


def _tier_targets(progress, program) -> dict:
    """The tier and the two targets the home page draws as bars: keeping it at the next review, reaching the next."""
    def amount(value) -> str:
        if progress.metric == "spend":
            return money(value, program.currency)
        return ngettext("%(count)s point", "%(count)s points", int(value)) % {"count": number(value)} \
            if progress.metric == "points" else \
            ngettext("%(count)s credit", "%(count)s credits", int(value)) % {"count": number(value)}

    def when(moment) -> str:
        return date_format(moment.astimezone(program_zone(program)).date(), "j F Y")

    targets = []
    tier, top = progress.tier, progress.next_tier
    if tier is not None and tier.threshold > 0:
        if progress.needed_to_keep and progress.keep_by:
            text = _("%(amount)s to go by %(date)s to keep %(tier)s.") % {
                "amount": amount(progress.needed_to_keep), "date": when(progress.keep_by), "tier": tier.name}
        elif progress.needed_to_keep:
            text = _("%(amount)s to go to keep %(tier)s.") % {
                "amount": amount(progress.needed_to_keep), "tier": tier.name}
        elif progress.keep_by:
            text = _("Kept: checked again on %(date)s.") % {"date": when(progress.keep_by)}
        else:
            text = _("Yours for good.")
        targets.append({"id": "keep", "title": _("Keep %(tier)s") % {"tier": tier.name}, "text": text,
                        "value": min(progress.qualifying_value, tier.threshold), "max": tier.threshold})
    if top is not None:
        words = {"amount": amount(progress.needed_for_next), "tier": top.name}
        if progress.window_closes:
            words["date"] = when(progress.window_closes - timedelta(seconds=1))
            text = _("%(amount)s to go by %(date)s to reach %(tier)s.") % words
        else:
            text = _("%(amount)s to go to reach %(tier)s.") % words
        targets.append({"id": "next", "title": _("Reach %(tier)s") % {"tier": top.name}, "text": text,
                        "value": min(progress.qualifying_value, top.threshold), "max": top.threshold})
    return {"tier": tier, "targets": targets, "so_far": amount(progress.qualifying_value)}


KIND_WORDS = {
    Kind.EARN: gettext_lazy("Points earned"),
    Kind.BONUS: gettext_lazy("Bonus points"),
    Kind.REDEEM: gettext_lazy("Points spent on a reward"),
    Kind.REFUND: gettext_lazy("Points given back"),
    Kind.RETURN: gettext_lazy("Points taken back for a return"),
    Kind.EXPIRE: gettext_lazy("Points expired"),
    Kind.RELEASE: gettext_lazy("Pending points became available"),
    Kind.ADJUST: gettext_lazy("Points adjusted by the team"),
    Kind.TRANSFER_IN: gettext_lazy("Points received from another member"),
    Kind.TRANSFER_OUT: gettext_lazy("Points sent to another member"),
}

# The statement's filters, as a member thinks of their points: what came in, what went out, what lapsed, and
# what was corrected (by the team, or taken back for a returned purchase).
ACTIVITY_FILTERS = {
    "earned": (gettext_lazy("Earned"), (Kind.EARN, Kind.BONUS, Kind.TRANSFER_IN)),
    "spent": (gettext_lazy("Spent"), (Kind.REDEEM, Kind.TRANSFER_OUT, Kind.REFUND)),
    "expired": (gettext_lazy("Expired"), (Kind.EXPIRE,)),
    "adjusted": (gettext_lazy("Adjusted"), (Kind.ADJUST, Kind.RETURN)),
}



@require_safe
@portal_view()
def activity(request):
    account = getattr(request.member, "account", None)
    page = page_number(request)
    show = request.GET.get("show", "")
    if show not in ACTIVITY_FILTERS:
        show = ""
    kinds = ACTIVITY_FILTERS[show][1] if show else None
    entries = statement_page(account=account, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1, kinds=kinds)[0] \
        if account is not None else []
    lines = [{"entry": entry, "what": entry.description or KIND_WORDS.get(entry.kind, entry.get_kind_display()),
              "kind": KIND_WORDS.get(entry.kind, entry.get_kind_display())} for entry in entries[:PAGE_SIZE]]
    filters = [{"key": "", "label": _("All"), "current": not show}] + [
        {"key": key, "label": label, "current": key == show} for key, (label, _kinds) in ACTIVITY_FILTERS.items()]
    return render(request, "portal/activity.html", {
        "lines": lines, "page": page, "has_next": len(entries) > PAGE_SIZE, "has_previous": page > 1,
        "show": show, "filters": filters,
    })
