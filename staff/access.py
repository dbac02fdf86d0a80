"""Who the signed-in person is in which program, for every staff view.

Resolved per request by the views that need it (a decorator, not middleware): the POS API
and the portal pay nothing for the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import wraps
from urllib.parse import urlencode

from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse

from programs.models import Program

from .mfa import two_factor_refusal
from .models import Role, StaffRole
from .permissions import role_may

SESSION_PROGRAM = "staff_program_id"


@dataclass
class StaffContext:
    """The signed-in staff member: their role in each program, and the program this page is about."""

    user: object
    roles: dict  # program id -> role
    programs: list[Program]
    program: Program | None = None
    extra: dict = field(default_factory=dict)
    record_action: str | None = None  # a record view's action, checked once its record's program is known

    @property
    def role(self) -> str | None:
        return self.roles.get(self.program.pk) if self.program else None

    def role_in(self, program_id) -> str | None:
        return self.roles.get(program_id)

    def may(self, action: str, program: Program | None = None) -> bool:
        program = program or self.program
        return program is not None and role_may(self.roles.get(program.pk), action)

    def require(self, action: str, program: Program | None = None) -> None:
        if not self.may(action, program):
            raise PermissionDenied(f"Your role may not do this ({action}).")

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else ""


def staff_roles(user) -> dict:
    """``{program_id: role}`` for a user; a superuser is manager of every program."""
    if not user.is_authenticated or not user.is_active:
        return {}
    if user.is_superuser:
        return dict.fromkeys(Program.objects.values_list("pk", flat=True), Role.MANAGER)
    return dict(StaffRole.objects.filter(user=user).values_list("program_id", "role"))


def staff_context(request) -> StaffContext | None:
    """The staff context of a request, or ``None`` for someone with no role anywhere."""
    roles = staff_roles(request.user)
    if not roles:
        return None
    programs = list(Program.objects.filter(pk__in=roles.keys()).order_by("name"))
    by_slug = {p.slug: p for p in programs}
    by_id = {str(p.pk): p for p in programs}
    chosen = None
    asked = request.GET.get("program")
    if asked:
        chosen = by_slug.get(asked)
        if chosen is None:
            # Another program's slug reads exactly like one that does not exist.
            raise Http404("No such program.")
    if chosen is None:
        chosen = by_id.get(request.session.get(SESSION_PROGRAM, ""))
    if chosen is None:
        chosen = programs[0]
    return StaffContext(user=request.user, roles=roles, programs=programs, program=chosen)


def login_redirect(request):
    query = urlencode({"next": request.get_full_path()})
    return HttpResponseRedirect(f"{reverse('staff:login')}?{query}")


def staff_view(action: str = "dashboard.view", *, record: bool = False, before_two_factor: bool = False):
    """Sign-in, a role in some program, and ``action`` allowed in the page's program, else 403.

    The view receives ``request.staff`` (a ``StaffContext``). A view about one record of a
    program (a member, a reward) says ``record=True``: the person needs ``action`` in *some*
    program here, and ``staff_object`` then checks it in the record's own program — so an agent
    of one program who is an analyst of the program chosen in the session still helps their
    members. Such a view must fetch its record with ``staff_object``, or it fails loudly.
    Two-factor sign-in comes first where it is due (``staff.mfa``); only the pages that set it
    up open ``before_two_factor``.
    """

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return login_redirect(request)
            context = staff_context(request)
            if context is None:
                raise PermissionDenied("You have no role in any program.")
            request.staff = context
            if not before_two_factor:
                refused = two_factor_refusal(request, context.roles, login_url=reverse("staff:login"))
                if refused is not None:
                    return refused
            if not record:
                context.require(action)
                return view(request, *args, **kwargs)
            if not any(role_may(role, action) for role in context.roles.values()):
                raise PermissionDenied(f"Your role may not do this ({action}).")
            context.record_action = action
            response = view(request, *args, **kwargs)
            if context.record_action is not None:
                raise ImproperlyConfigured(f"{view.__qualname__} is a record view but never called staff_object.")
            return response

        wrapped.staff_action = action
        return wrapped

    return decorate


def staff_object(request, queryset, action: str, **lookup):
    """One record of a program the person works in, or 404; then ``action`` in *its* program, or 403.

    Another program's record answers exactly like a record that does not exist, whatever the role.
    The page's program becomes the record's program, and a record view's own action is checked there too.
    """
    context: StaffContext = request.staff
    try:
        obj = queryset.filter(program_id__in=list(context.roles.keys())).get(**lookup)
    except (queryset.model.DoesNotExist, ValidationError, ValueError, TypeError) as error:
        # an id of the wrong shape (not a UUID, say) is a plain miss too
        raise Http404("Not found.") from error
    context.program = next((p for p in context.programs if p.pk == obj.program_id), context.program)
    if context.record_action is not None:
        context.require(context.record_action)
        context.record_action = None
    context.require(action)
    return obj
