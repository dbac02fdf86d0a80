"""Project-level pages: the public page at ``/``.

Anyone may open it, so with ``DEBUG`` off it names no program and counts nothing: which programs run here
and how many members they have is their business. With ``DEBUG`` on it is the developer's overview of
every program and the demo's POS key. Signed-in staff are taken to their dashboard.
"""

from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from members.models import Member
from programs.demo import DEMO_MEMBERS
from programs.models import Program, Store
from staff.access import staff_roles

DEMO_PROGRAM_SLUG = "demo"
DEMO_API_KEY = "demo-pos-key-0001"  # published with the demo program (Makefile, `seed_demo --api-key`)


@dataclass(frozen=True)
class Totals:
    programs: int
    stores: int
    members: int


def _count_per_program(queryset):
    """A correlated ``COUNT(*)`` per program, 0 when there are no rows (no join fan-out)."""
    counted = queryset.filter(program=OuterRef("pk")).order_by().values("program").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def program_list_with_counts() -> list[Program]:
    """Every program, by name, annotated with ``store_count`` and ``member_count``."""
    return list(
        Program.objects.annotate(
            store_count=_count_per_program(Store.objects.all()),
            member_count=_count_per_program(Member.objects.all()),
        ).order_by("name")
    )


@require_safe
def home(request):
    if request.user.is_authenticated and staff_roles(request.user):
        return redirect("staff:home")
    if not settings.DEBUG:
        return render(request, "home.html", {"overview": False})
    programs = program_list_with_counts()
    totals = Totals(
        programs=len(programs),
        stores=sum(p.store_count for p in programs),
        members=sum(p.member_count for p in programs),
    )
    demo = next((p for p in programs if p.slug == DEMO_PROGRAM_SLUG), None)
    context = {"overview": True, "programs": programs, "totals": totals, "demo_program": demo}
    if demo is not None:
        context["curl"] = {
            "url": request.build_absolute_uri(
                f"/api/v1/pos/members/lookup/?email={quote(DEMO_MEMBERS[0][0], safe='')}"
            ),
            "api_key": DEMO_API_KEY,
        }
    return render(request, "home.html", context)
