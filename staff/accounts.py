"""Staff sign-in, sign-out and the choice of program."""

from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from programs.models import Program

from .access import SESSION_PROGRAM, staff_view


class StaffLoginView(auth_views.LoginView):
    template_name = "staff/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return reverse("staff:home")


class StaffLogoutView(auth_views.LogoutView):
    next_page = "staff:login"


def _same_page(request) -> str:
    """The page the switch was made on, without its query (which may name the old program)."""
    target = urlsplit(request.POST.get("next") or "").path
    if not target.startswith("/staff/") or not url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return reverse("staff:home")
    # A record's page belongs to the old program; its area's list is the useful place to land.
    return target if target.count("/") <= 3 else reverse("staff:home")


@require_POST
@staff_view()
def program_switch(request):
    """Make another of the person's programs the one the dashboard shows."""
    program = get_object_or_404(Program, slug=request.POST.get("program", ""),
                                pk__in=list(request.staff.roles.keys()))
    request.session[SESSION_PROGRAM] = str(program.pk)
    messages.success(request, f"Now working in {program.name}.")
    return HttpResponseRedirect(_same_page(request))
