"""Project-level pages: the public overview at ``/``."""

from dataclasses import dataclass
from urllib.parse import quote

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import render
from django.views.decorators.http import require_safe

from members.models import Member
from programs.demo import DEMO_MEMBERS
from programs.models import Program, Store

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
    programs = program_list_with_counts()
    totals = Totals(
        programs=len(programs),
        stores=sum(p.store_count for p in programs),
        members=sum(p.member_count for p in programs),
    )
    demo = next((p for p in programs if p.slug == DEMO_PROGRAM_SLUG), None)
    context = {"programs": programs, "totals": totals, "demo_program": demo}
    if demo is not None:
        context["curl"] = {
            "url": request.build_absolute_uri(
                f"/api/v1/pos/members/lookup/?email={quote(DEMO_MEMBERS[0][0], safe='')}"
            ),
            "api_key": DEMO_API_KEY,
        }
    return render(request, "home.html", context)
