"""Who the signed-in member is, for every portal view, and the language their pages speak.

Resolved per request by a decorator, not middleware: the POS API and the staff dashboard pay nothing for
the portal. A login belongs to one program's member; the program it signed in to is kept in the session,
and a session of another program reads as nobody here.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers

from members.models import Member
from programs.models import Program

SESSION_PROGRAM = "portal_program_id"
LANGUAGES = {code for code, _ in settings.LANGUAGES}


# The deepest page of a paginated list a request may ask for: beyond it, OFFSET work is only a cost.
MAX_PAGE = 2500


def page_number(request) -> int:
    """The ``?page=`` a list page was asked for: a whole number from 1 to ``MAX_PAGE``, else 1."""
    try:
        return min(max(1, int(request.GET.get("page", "1"))), MAX_PAGE)
    except (TypeError, ValueError):
        return 1


def program_zone(program) -> ZoneInfo:
    """The zone the program's dates are read and shown in."""
    return program.zone


def portal_program(slug: str) -> Program:
    program = Program.objects.filter(slug=slug).first() if slug else None
    if program is None:
        raise Http404("No such program.")
    return program


def signed_in_member(request, program: Program) -> Member | None:
    """The member this session signed in as *in this program*, else ``None``."""
    user = request.user
    if not user.is_authenticated or request.session.get(SESSION_PROGRAM) != str(program.pk):
        return None
    return Member.objects.select_related("account", "program").filter(user=user, program=program).first()


def page_language(request, member: Member | None) -> str:
    """The member's own choice, else the browser's (``en``/``de``), else English.

    A member enrolled without being asked (at the till, the demo members) has ``language`` empty: chosen none.
    """
    if member is not None and member.language in LANGUAGES:
        return member.language
    return translation.get_language_from_request(request)


def login_redirect(request, program: Program):
    query = urlencode({"next": request.get_full_path()})
    return HttpResponseRedirect(f"{reverse('portal:login', args=[program.slug])}?{query}")


def portal_view(*, signed_in: bool = True):
    """The program of the URL (unknown → 404) as ``request.program``, the member as ``request.member``
    (``None`` on public pages), and the page's language active while the view runs."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, program_slug: str, *args, **kwargs):
            program = portal_program(program_slug)
            member = signed_in_member(request, program)
            if signed_in and member is None:
                return login_redirect(request, program)
            request.program, request.member = program, member
            language = page_language(request, member)
            with translation.override(language):
                request.LANGUAGE_CODE = language
                response = view(request, *args, **kwargs)
                response.headers.setdefault("Content-Language", language)
                if member is not None and "Cache-Control" not in response.headers:
                    # A member's points and vouchers are theirs: no shared cache, no back button after sign-out.
                    # A view that says how it may be kept (a reward's picture, private for minutes) keeps that.
                    add_never_cache_headers(response)
                    response.headers["Cache-Control"] += ", private"
                # The same address answers in the browser's language: caches must keep them apart.
                response.headers["Vary"] = ", ".join(filter(None, [response.headers.get("Vary"),
                                                                  "Accept-Language"]))
                return response

        wrapped.portal_view = True
        return wrapped

    return decorate
