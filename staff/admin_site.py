"""The Django admin, with the staff sign-in's second step: no door into the admin skips the code.

Installed as the default admin site (``staff.apps.AdminConfig``), so every app's ``admin.py``
registers here as usual.
"""

from functools import wraps

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from .access import staff_roles
from .accounts import TwoStepLoginView
from .mfa import two_factor_refusal


class StaffAdminSite(admin.AdminSite):
    site_header = "Loyalty admin"
    site_title = "Loyalty admin"
    index_title = "Records"

    def login(self, request, extra_context=None):
        # Django's AdminSite.login, with the two-step view in place of its LoginView.
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        context = {
            **self.each_context(request),
            "title": _("Log in"),
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
        }
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
        context.update(extra_context or {})
        request.current_app = self.name
        return TwoStepLoginView.as_view(
            extra_context=context,
            authentication_form=self.login_form or AdminAuthenticationForm,
            template_name=self.login_template or "admin/login.html",
        )(request)

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def gated(request, *args, **kwargs):
            if request.user.is_active and request.user.is_staff:
                refused = two_factor_refusal(request, staff_roles(request.user),
                                             login_url=reverse("admin:login", current_app=self.name))
                if refused is not None:
                    return refused
            return inner(request, *args, **kwargs)

        return gated
