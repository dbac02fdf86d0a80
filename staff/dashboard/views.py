from django.shortcuts import render
from django.views.decorators.http import require_safe

from ..access import staff_view
from .checks import home_checks
from .figures import home_figures


@require_safe
@staff_view("dashboard.view")
def home(request):
    staff = request.staff
    checks = home_checks(staff=staff)
    figures = home_figures(program=staff.program)
    rows = figures.rows()
    return render(request, "staff/dashboard/home.html", {
        "home": figures, "recent": rows[:7], "earlier": rows[7:],
        "alerts": [check for check in checks if check.alert],
        "all_clear": [check for check in checks if not check.alert],
    })
