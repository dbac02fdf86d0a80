"""The member page, as other staff areas render it again (a form with errors shown in place)."""

from django.shortcuts import render


def member_page_context(request, member) -> dict:
    """Everything ``staff/members/detail.html`` shows about one member."""
    return {"member": member}


def render_member_page(request, member, *, status: int = 200, **extra):
    """The member page, with ``extra`` context (e.g. ``adjust_form`` holding a form with its errors)."""
    return render(request, "staff/members/detail.html", {**member_page_context(request, member), **extra},
                  status=status)
