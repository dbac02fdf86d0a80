"""The member's pages: home (points and card) and activity; rewards and vouchers are in ``rewards.py``."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from ledger.models import Kind
from ledger.selectors import account_balance_get, account_open_lots, statement_page
from loyalty.images import image_response
from programs.models import Program
from rewards.models import Redemption
from tiers.selectors import member_tier_get

from .access import portal_view
from .qr import qr_svg

PAGE_SIZE = 20
EXPIRY_DATES_SHOWN = 4
MAX_PAGE = 2500


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


def _zone(program) -> ZoneInfo:
    return ZoneInfo(program.time_zone or "UTC")


@require_safe
@portal_view()
def home(request):
    member = request.member
    account = getattr(member, "account", None)
    balance = account_balance_get(member=member)
    zone = _zone(member.program)
    pending: dict = {}
    expiring: dict = {}
    for lot in account_open_lots(account=account) if account is not None else []:
        if not lot.released:
            day = lot.available_at.astimezone(zone).date()
            pending[day] = pending.get(day, 0) + lot.remaining
        elif lot.expires_at is not None:
            day = lot.expires_at.astimezone(zone).date()
            expiring[day] = expiring.get(day, 0) + lot.remaining
    return render(request, "portal/home.html", {
        "balance": balance,
        "pending_days": sorted(pending.items()),
        "expiring_days": sorted(expiring.items())[:EXPIRY_DATES_SHOWN],
        "tier": member_tier_get(member=member),
        "card_qr": qr_svg(member.card_number, label=_("QR code of your card %(number)s")
                          % {"number": member.card_number}),
        "vouchers": Redemption.objects.filter(member=member, status=Redemption.Status.ISSUED)
        .select_related("reward").order_by("-issued_at")[:5],
    })


KIND_WORDS = {
    Kind.EARN: gettext_lazy("Points earned"),
    Kind.BONUS: gettext_lazy("Bonus points"),
    Kind.REDEEM: gettext_lazy("Points spent on a reward"),
    Kind.REFUND: gettext_lazy("Points given back"),
    Kind.RETURN: gettext_lazy("Points taken back for a return"),
    Kind.EXPIRE: gettext_lazy("Points expired"),
    Kind.RELEASE: gettext_lazy("Pending points became available"),
    Kind.ADJUST: gettext_lazy("Points adjusted by the team"),
}


def _page_number(request) -> int:
    try:
        return min(max(1, int(request.GET.get("page", "1"))), MAX_PAGE)
    except (TypeError, ValueError):
        return 1


@require_safe
@portal_view()
def activity(request):
    account = getattr(request.member, "account", None)
    page = _page_number(request)
    entries = statement_page(account=account, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)[0] \
        if account is not None else []
    lines = [{"entry": entry, "what": entry.description or KIND_WORDS.get(entry.kind, entry.get_kind_display()),
              "kind": KIND_WORDS.get(entry.kind, entry.get_kind_display())} for entry in entries[:PAGE_SIZE]]
    return render(request, "portal/activity.html", {
        "lines": lines, "page": page, "has_next": len(entries) > PAGE_SIZE, "has_previous": page > 1,
    })
