"""The staff dashboard at /staff/: one sub-area per domain, each with its own urls."""

from django.urls import include, path

from . import accounts

app_name = "staff"

urlpatterns = [
    path("login/", accounts.StaffLoginView.as_view(), name="login"),
    path("logout/", accounts.StaffLogoutView.as_view(), name="logout"),
    path("program/", accounts.program_switch, name="program-switch"),
    path("", include("staff.dashboard.urls")),
    path("", include("staff.members.urls")),
    path("", include("staff.adjustments.urls")),
    path("settings/", include("staff.configuration.urls")),
    path("", include("staff.data.urls")),
]
