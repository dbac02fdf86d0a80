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

from programs.models import Program

from .access import staff_roles
from .accounts import TwoStepLoginView
from .mfa import two_factor_refusal
from .services import audit_record, snapshot

# Values the audit log never copies: it says that they changed, not what they are.
SECRET_FIELDS = frozenset({"password", "secret", "key_hash"})


def _audited_values(obj, names) -> dict:
    return {name: "(changed)" if name in SECRET_FIELDS else value for name, value in snapshot(obj, names).items()}


def _program_of(obj):
    if isinstance(obj, Program):
        return obj
    program = getattr(obj, "program", None)
    return program if isinstance(program, Program) else None


class AuditedAdmin:
    """Every record added, changed or deleted in the Django admin is in the staff audit log too, with the
    fields that changed, before and after, in the admin's own transaction: raw records are no side door."""

    def save_model(self, request, obj, form, change):
        concrete = {field.name for field in obj._meta.concrete_fields}
        names = [name for name in form.changed_data if name in concrete]
        old = type(obj)._default_manager.filter(pk=obj.pk).first() if change else None
        before = _audited_values(old, names) if old is not None else None
        super().save_model(request, obj, form, change)
        audit_record(actor=request.user, program=_program_of(obj), action="admin.change" if change else "admin.add",
                     target=obj, before=before, after=_audited_values(obj, names),
                     reason="Changed in the Django admin" if change else "Added in the Django admin")

    def save_formset(self, request, form, formset, change):
        """Rows edited inline (a program's stores on the program's page) are audited one by one."""
        initial = {f.instance.pk: f.initial for f in formset.initial_forms}
        for deleted in formset.deleted_forms:  # audited while they still have their ids
            if deleted.instance.pk is not None:
                self._audit_deletion(request, deleted.instance)
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            names = [f.name for f in obj._meta.concrete_fields if f.name != obj._meta.pk.name]
            audit_record(actor=request.user, program=_program_of(obj), action="admin.add", target=obj,
                         after=_audited_values(obj, names), reason="Added in the Django admin")
        for obj, changed_names in formset.changed_objects:
            concrete = {f.name for f in obj._meta.concrete_fields}
            names = [name for name in changed_names if name in concrete]
            before = {name: initial.get(obj.pk, {}).get(name) for name in names}
            audit_record(actor=request.user, program=_program_of(obj), action="admin.change", target=obj,
                         before={k: "(changed)" if k in SECRET_FIELDS else v for k, v in before.items()},
                         after=_audited_values(obj, names), reason="Changed in the Django admin")

    def delete_model(self, request, obj):
        self._audit_deletion(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._audit_deletion(request, obj)
        super().delete_queryset(request, queryset)

    def _audit_deletion(self, request, obj):
        audit_record(actor=request.user, program=_program_of(obj), action="admin.delete", target=obj,
                     before={"record": str(obj)}, after=None, reason="Deleted in the Django admin")


class StaffAdminSite(admin.AdminSite):
    site_header = "Loyalty admin"
    site_title = "Loyalty admin"
    index_title = "Records"

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every model admin of every app, audited (``AuditedAdmin``), whatever its own class."""
        base = admin_class or admin.ModelAdmin
        audited = type(base.__name__, (AuditedAdmin, base), {"__module__": base.__module__,
                                                             "__qualname__": base.__qualname__})
        super().register(model_or_iterable, audited, **options)

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
