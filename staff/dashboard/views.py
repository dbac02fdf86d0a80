from django.shortcuts import render
from django.views.decorators.http import require_safe

from ..access import staff_view


@require_safe
@staff_view("dashboard.view")
def home(request):
    return render(request, "staff/dashboard/home.html", {})
